"""Animating the face of a larger picture (half or full body): crop a square around the face, animate the
crop, and paste every frame back into the picture with a feathered, colour-matched edge. Pixels outside
the crop, and on its outer edge, stay exactly the original's."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .errors import InputError


@dataclass(frozen=True)
class FaceCrop:
    """A square of the picture, in pixels: its left and top edges and its side."""

    left: int
    top: int
    side: int

    def image(self, picture: Image.Image) -> Image.Image:
        return picture.crop((self.left, self.top, self.left + self.side, self.top + self.side))


def crop_around(face: tuple[float, float, float, float], width: int, height: int, scale: float = 2.0,
                offset: tuple[float, float] = (0.0, 0.0)) -> FaceCrop:
    """The square `scale` times the face box's longer side, centred on the face moved by `offset` (in
    face sizes, e.g. (0, 0.2) moves it down a fifth of the face), kept inside the picture."""
    x0, y0, x1, y1 = face
    size = max(x1 - x0, y1 - y0)
    if size <= 0 or scale <= 0:
        raise InputError(f"The face box {face} or the crop scale {scale} is empty.")
    side = int(min(round(size * scale), width, height)) // 2 * 2  # even: videos need even sizes
    cx, cy = (x0 + x1) / 2 + offset[0] * size, (y0 + y1) / 2 + offset[1] * size
    left = int(min(max(round(cx - side / 2), 0), width - side))
    top = int(min(max(round(cy - side / 2), 0), height - side))
    return FaceCrop(left, top, side)


def find_face(picture: Image.Image, longest: int = 1024, face_model=None) -> tuple[float, float, float, float]:
    """The face box (x0, y0, x1, y1) in `picture`'s pixels, found by MediaPipe's face mesh on a copy at most
    `longest` pixels wide or high; raises `InputError` when MediaPipe or its model file is missing or finds
    no face. `face_model`: where face_landmarker.task is (a `FaceLandmarkerModel`; None: the default)."""
    from .face_mesh import FaceMeshUnavailable, face_mesh_boxes
    from .frames import signed_unit

    factor = min(1.0, longest / max(picture.size))
    small = picture.resize((max(1, round(picture.width * factor)), max(1, round(picture.height * factor))),
                           Image.BICUBIC) if factor < 1 else picture
    pixels = torch.from_numpy(np.array(small.convert("RGB"))).permute(2, 0, 1)[None]
    try:
        box = face_mesh_boxes(signed_unit(pixels), scale=1.0, what="the reference picture", model=face_model)[0]
    except (InputError, FaceMeshUnavailable) as exc:
        raise InputError(f"{exc} Or give the face's square yourself (animate: --crop-box LEFT,TOP,SIDE; "
                         "PersonaLiveFaceCrop: left, top and side).") from None
    return tuple(float(v) / factor for v in box)


def choose_crop(picture: Image.Image, box: tuple[float, float, float] | None = None, scale: float = 2.0,
                offset: tuple[float, float] = (0.0, 0.0), even: bool = False, face_model=None) -> FaceCrop:
    """The square to animate: `box` (left, top, side) as given, or around the face MediaPipe finds (see
    `find_face` for `face_model`). With `even` (H.264/VP9 output) the picture must have an even width and
    height. Raises `InputError`."""
    width, height = picture.size
    if box is not None:
        left, top, side = (int(v) for v in box)
        if side < 64 or left < 0 or top < 0 or left + side > width or top + side > height:
            raise InputError(f"The crop box {left},{top},{side} does not fit the {width}x{height} picture (side 64 "
                             "or more, inside the picture).")
        crop = FaceCrop(left, top, side)
    else:
        crop = crop_around(find_face(picture, face_model=face_model), width, height, scale, offset)
    if even and (width % 2 or height % 2):
        raise InputError(f"The picture is {width}x{height}; the output video needs an even width and height. Crop "
                         "it by a pixel, or write a .gif or a folder of PNG frames.")
    return crop


def feather_mask(side: int, feather: float = 0.12) -> np.ndarray:
    """(side, side) weights: 0 on the crop's edge, rising smoothly to 1 over `feather` of the side."""
    ramp = max(1.0, feather * side)
    position = np.arange(side, dtype=np.float32)
    edge = np.minimum(position, side - 1 - position) / ramp
    edge = np.clip(edge, 0, 1)
    edge = edge * edge * (3 - 2 * edge)  # smoothstep
    return np.minimum(edge[:, None], edge[None, :])


class PasteBack:
    """Puts animated crops (k,S,S,3) in [0,1] back into `picture` at `crop`: each frame is resized to the
    crop, shifted in colour so its feathered band matches the picture's, and blended by `feather_mask`."""

    def __init__(self, picture: Image.Image, crop: FaceCrop, feather: float = 0.12):
        self.picture = np.asarray(picture.convert("RGB"))
        self.crop = crop
        self.mask = feather_mask(crop.side, feather)[:, :, None]
        self.band = (self.mask[:, :, 0] > 0) & (self.mask[:, :, 0] < 1)
        c = crop
        self.under = self.picture[c.top:c.top + c.side, c.left:c.left + c.side].astype(np.float32)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        out = []
        for frame in (frames.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy():
            big = np.asarray(Image.fromarray(frame).resize((self.crop.side,) * 2, Image.BICUBIC), np.float32)
            big = big + (self.under[self.band].mean(0) - big[self.band].mean(0))  # colour match at the seam
            blended = self.under * (1 - self.mask) + big * self.mask
            picture = self.picture.copy()
            c = self.crop
            picture[c.top:c.top + c.side, c.left:c.left + c.side] = np.clip(blended.round(), 0, 255).astype(np.uint8)
            out.append(picture)
        return torch.from_numpy(np.stack(out)).float() / 255
