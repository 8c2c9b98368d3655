"""EncodeReference and MotionEncode."""

from __future__ import annotations

import comfy.model_management as mm

from personalive_core import api

from .common import (
    CATEGORY,
    KEYPOINTS,
    MOTION,
    REFERENCE,
    SIZE_INPUT,
    SizeWidget,
    check_interrupt,
    models_input,
    node_method,
)
from .control_inputs import expression_strength_input


class EncodeReference(SizeWidget):
    DESCRIPTION = (
        "Encodes the reference portrait once (reference UNet features and image embedding). ComfyUI caches the "
        "result, so changing the seed or the driving video does not encode it again."
    )
    CATEGORY = CATEGORY
    FUNCTION = "encode"
    RETURN_TYPES = (REFERENCE,)
    RETURN_NAMES = ("reference",)
    OUTPUT_TOOLTIPS = ("Reference features for PersonaLiveSampler4Step.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "models": models_input(),
                "reference": (
                    "IMAGE",
                    {"tooltip": "The portrait to animate (one image). It is resized to size x size."},
                ),
                "size": SIZE_INPUT,
            }
        }

    @node_method
    def encode(self, models, reference, size: int):
        core_models = models.on_device()
        check_interrupt()
        # Cached by ComfyUI between runs: keep it off the compute device (the sampler moves it back).
        return (api.encode_reference(core_models, reference, size=size).to(mm.intermediate_device()),)


class MotionEncode:
    DESCRIPTION = (
        "Encodes the facial motion of every driving frame (face crops from the keypoints) into motion tokens "
        "for the sampler."
    )
    CATEGORY = CATEGORY
    FUNCTION = "encode"
    RETURN_TYPES = (MOTION,)
    RETURN_NAMES = ("motion",)
    OUTPUT_TOOLTIPS = ("Motion tokens, one set per driving frame.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "models": models_input(),
                "reference": ("IMAGE", {"tooltip": "The same reference image given to ExtractLivePortraitKeypoints."}),
                "driving": ("IMAGE", {"tooltip": "The same driving frames given to ExtractLivePortraitKeypoints."}),
                "keypoints": (KEYPOINTS, {"tooltip": "From ExtractLivePortraitKeypoints (gives the face crops)."}),
            },
            "optional": {
                "expression_strength": expression_strength_input(
                    " (relative to the driver's first frame when the keypoints are relative)"),
            },
        }

    @node_method
    def encode(self, models, reference, driving, keypoints, expression_strength: float = 1.0):
        core_models = models.on_device()
        check_interrupt()
        motion = api.encode_motion(core_models, reference, driving, keypoints, expression_strength=expression_strength)
        return (motion.to(mm.intermediate_device()),)
