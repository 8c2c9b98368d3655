"""PersonaLiveFaceCrop and PersonaLivePasteBack: animate the face of a larger (half- or full-body) picture."""

from __future__ import annotations

import torch

from personalive_core.errors import InputError
from personalive_core.paste_back import FaceCrop, PasteBack, crop_around, find_face

from .common import CATEGORY, check_interrupt, first_picture, node_method, to_intermediate

CROP = "PERSONALIVE_CROP"


class PersonaLiveFaceCrop:
    DESCRIPTION = (
        "Cuts a square around the face of a larger picture (half or full body) to animate. Feed the square to "
        "the PersonaLive nodes as the reference, and the crop to PersonaLivePasteBack to put the animation back."
    )
    CATEGORY = CATEGORY
    FUNCTION = "crop"
    RETURN_TYPES = ("IMAGE", CROP)
    RETURN_NAMES = ("face", "crop")
    OUTPUT_TOOLTIPS = ("The square around the face, as an IMAGE.", "Where the square lies in the picture.")

    @classmethod
    def INPUT_TYPES(cls):
        scale = {"default": 2.0, "min": 1.0, "max": 6.0, "step": 0.05,
                 "tooltip": "The square's side in face sizes (the face box found by MediaPipe)."}
        shift = {"default": 0.0, "min": -2.0, "max": 2.0, "step": 0.05,
                 "tooltip": "Moves the square by this fraction of the face size (positive: right / down)."}
        box = {"default": 0, "min": 0, "max": 16384, "tooltip": "With side > 0: the square in pixels (no detection)."}
        return {
            "required": {
                "picture": ("IMAGE", {"tooltip": "The larger picture; its first image is used."}),
                "crop_scale": ("FLOAT", scale),
                "offset_x": ("FLOAT", dict(shift)),
                "offset_y": ("FLOAT", dict(shift)),
            },
            "optional": {
                "left": ("INT", dict(box, tooltip="With side > 0: the square's left edge in pixels.")),
                "top": ("INT", dict(box, tooltip="With side > 0: the square's top edge in pixels.")),
                "side": ("INT", dict(box, tooltip="The square's side in pixels; 0 finds the face with MediaPipe.")),
            },
        }

    @node_method
    def crop(self, picture, crop_scale: float, offset_x: float, offset_y: float, left: int = 0, top: int = 0,
             side: int = 0):
        check_interrupt()
        image = first_picture(picture, "picture")
        if side > 0:
            if left + side > image.width or top + side > image.height:
                raise InputError(f"The square {left},{top},{side} does not fit the {image.width}x{image.height} "
                                 "picture.")
            square = FaceCrop(left, top, side)
        else:
            square = crop_around(find_face(image), image.width, image.height, crop_scale, (offset_x, offset_y))
        face = picture[0:1, square.top:square.top + square.side, square.left:square.left + square.side]
        return (to_intermediate(face), square)


class PersonaLivePasteBack:
    DESCRIPTION = (
        "Pastes animated frames of a face square back into the larger picture it was cut from, with a feathered, "
        "colour-matched edge; the frames come out at the picture's size, untouched outside the square."
    )
    CATEGORY = CATEGORY
    FUNCTION = "paste"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("frames",)
    OUTPUT_TOOLTIPS = ("The picture with the animated face, one image per frame.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "picture": ("IMAGE", {"tooltip": "The same picture given to PersonaLiveFaceCrop."}),
                "frames": ("IMAGE", {"tooltip": "The animated frames of the face square (any size; resized)."}),
                "crop": (CROP, {"tooltip": "From PersonaLiveFaceCrop."}),
                "feather": ("FLOAT", {"default": 0.12, "min": 0.0, "max": 0.5, "step": 0.01,
                                      "tooltip": "Width of the soft edge, as a fraction of the square's side."}),
            }
        }

    @node_method
    def paste(self, picture, frames, crop: FaceCrop, feather: float = 0.12):
        paste = PasteBack(first_picture(picture, "picture"), crop, feather)
        out = []
        for first in range(0, frames.shape[0], 16):
            check_interrupt()
            out.append(paste(frames[first:first + 16]))
        return (to_intermediate(torch.cat(out)),)
