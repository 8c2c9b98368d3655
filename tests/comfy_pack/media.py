"""Synthetic inputs for the shipped workflows (a face-like reference, a short driving clip) and a frame
counter for the videos ComfyUI writes. Nothing is downloaded; the content only has to be decodable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REFERENCE_FILE = "personalive_reference.png"
DRIVING_VIDEO_FILE = "personalive_driving.mp4"
DRIVING_IMAGE_FILE = "personalive_driving.png"
PICTURE_FILE = "personalive_picture.png"  # a larger picture with the face at PICTURE_FACE_SQUARE
PICTURE_FACE_SQUARE = (48, 40, 96)  # left, top, side


def face(width: int, height: int, shift: float = 0.0) -> Image.Image:
    """A cartoon face; `shift` in [-1, 1] turns it a little to the side."""
    img = Image.new("RGB", (width, height), (90, 120, 160))
    d = ImageDraw.Draw(img)
    cx, cy = width / 2 + shift * width * 0.08, height / 2
    rx, ry = width * 0.28, height * 0.36
    d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=(225, 190, 160))
    for ex in (-0.35, 0.35):
        x = cx + ex * rx + shift * width * 0.03
        d.ellipse([x - rx * 0.14, cy - ry * 0.25, x + rx * 0.14, cy - ry * 0.08], fill=(40, 40, 40))
    mouth = ry * (0.1 + 0.1 * abs(shift))
    d.ellipse([cx - rx * 0.35, cy + ry * 0.35, cx + rx * 0.35, cy + ry * 0.35 + mouth], fill=(150, 50, 60))
    return img


def write_video(path: Path, frames: list[Image.Image], fps: int = 8) -> Path:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def driving_frames(count: int, width: int = 128, height: int = 96) -> list[Image.Image]:
    return [face(width, height, float(np.sin(i / 3))) for i in range(count)]


def write_inputs(input_dir: Path, frames: int) -> None:
    input_dir.mkdir(parents=True, exist_ok=True)
    face(128, 128).save(input_dir / REFERENCE_FILE)
    write_video(input_dir / DRIVING_VIDEO_FILE, driving_frames(frames))
    face(128, 96, 0.8).save(input_dir / DRIVING_IMAGE_FILE)
    picture()[0].save(input_dir / PICTURE_FILE)


def picture() -> tuple[Image.Image, tuple[int, int, int]]:
    """A 192x256 'half-body' picture (striped, so every pixel outside the face square is distinctive) with
    a face in the square PICTURE_FACE_SQUARE."""
    left, top, side = PICTURE_FACE_SQUARE
    stripes = (np.arange(256)[:, None, None] * np.array([3, 5, 7]) + np.arange(192)[None, :, None] * 2) % 256
    image = Image.fromarray(stripes.astype(np.uint8))
    image.paste(face(side, side), (left, top))
    return image, PICTURE_FACE_SQUARE


def count_video_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))
