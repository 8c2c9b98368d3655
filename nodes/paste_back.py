"""PersonaLiveFaceCrop and PersonaLivePasteBack: animate the face of a larger (half- or full-body) picture."""

from __future__ import annotations

import torch
from comfy_api.v0_0_2 import io

from personalive_core.errors import InputError
from personalive_core.paste_back import FaceCrop, PasteBack, crop_around, find_face

from . import model_folder
from .common import CATEGORY, check_interrupt, first_picture, node_errors, to_intermediate
from .socket_types import Crop


class PersonaLiveFaceCrop(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        shift = dict(default=0.0, min=-2.0, max=2.0, step=0.05,
                     tooltip="Moves the square by this fraction of the face size (positive: right / down).")
        box = dict(default=0, min=0, max=16384, optional=True)
        return io.Schema(
            node_id="PersonaLiveFaceCrop",
            display_name="Face Crop (PersonaLive paste-back)",
            category=CATEGORY,
            description="Cuts a square around the face of a larger picture (half or full body) to animate. Feed the "
            "square to the PersonaLive nodes as the reference, and the crop to PersonaLivePasteBack to put the "
            "animation back.",
            inputs=[
                io.Image.Input("picture", tooltip="The larger picture; its first image is used."),
                io.Float.Input("crop_scale", default=2.0, min=1.0, max=6.0, step=0.05,
                               tooltip="The square's side in face sizes (the face box found by MediaPipe)."),
                io.Float.Input("offset_x", **shift),
                io.Float.Input("offset_y", **shift),
                io.Int.Input("left", **box, tooltip="With side > 0: the square's left edge in pixels."),
                io.Int.Input("top", **box, tooltip="With side > 0: the square's top edge in pixels."),
                io.Int.Input("side", **box, tooltip="The square's side in pixels; 0 finds the face with MediaPipe."),
            ],
            outputs=[
                io.Image.Output(display_name="face", tooltip="The square around the face, as an IMAGE."),
                Crop.Output(display_name="crop", tooltip="Where the square lies in the picture."),
            ],
        )

    @classmethod
    @node_errors
    def execute(cls, picture, crop_scale: float, offset_x: float, offset_y: float, left: int = 0, top: int = 0,
             side: int = 0):
        check_interrupt()
        image = first_picture(picture, "picture")
        if side > 0:
            if left + side > image.width or top + side > image.height:
                raise InputError(f"The square {left},{top},{side} does not fit the {image.width}x{image.height} "
                                 "picture.")
            square = FaceCrop(left, top, side)
        else:
            face = find_face(image, face_model=model_folder.face_model())
            square = crop_around(face, image.width, image.height, crop_scale, (offset_x, offset_y))
        face = picture[0:1, square.top:square.top + square.side, square.left:square.left + square.side]
        return io.NodeOutput(to_intermediate(face), square)


class PersonaLivePasteBack(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="PersonaLivePasteBack",
            display_name="Paste Back (PersonaLive)",
            category=CATEGORY,
            description="Pastes animated frames of a face square back into the larger picture it was cut from, with a "
            "feathered, colour-matched edge; the frames come out at the picture's size, untouched outside the square.",
            inputs=[
                io.Image.Input("picture", tooltip="The same picture given to PersonaLiveFaceCrop."),
                io.Image.Input("frames", tooltip="The animated frames of the face square (any size; resized)."),
                Crop.Input("crop", tooltip="From PersonaLiveFaceCrop."),
                io.Float.Input("feather", default=0.12, min=0.0, max=0.5, step=0.01,
                               tooltip="Width of the soft edge, as a fraction of the square's side."),
            ],
            outputs=[
                io.Image.Output(display_name="frames", tooltip="The picture with the animated face, one image per frame."),
            ],
        )

    @classmethod
    @node_errors
    def execute(cls, picture, frames, crop: FaceCrop, feather: float = 0.12):
        paste = PasteBack(first_picture(picture, "picture"), crop, feather)
        out = []
        for first in range(0, frames.shape[0], 16):
            check_interrupt()
            out.append(paste(frames[first:first + 16]))
        return io.NodeOutput(to_intermediate(torch.cat(out)))
