"""EncodeReference and MotionEncode."""

from __future__ import annotations

import comfy.model_management as mm

from personalive_core.errors import InputError

from .common import (
    CATEGORY,
    KEYPOINTS,
    MODELS,
    MOTION,
    REFERENCE,
    check_interrupt,
    frames,
    same_count,
    single_image,
    size_problem,
)


class EncodeReference:
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
                "models": (MODELS, {"tooltip": "From LoadPersonaLiveModels."}),
                "reference": (
                    "IMAGE",
                    {"tooltip": "The portrait to animate (one image). It is resized to size x size."},
                ),
                "size": (
                    "INT",
                    {
                        "default": 512,
                        "min": 64,
                        "max": 2048,
                        "step": 64,
                        "tooltip": "Working resolution in pixels (square), a multiple of 64; the same value as in "
                        "ExtractLivePortraitKeypoints. PersonaLive was trained at 512; other sizes work "
                        "but look worse.",
                    },
                ),
            }
        }

    @classmethod
    def VALIDATE_INPUTS(cls, size=None):
        if size is None:
            return True
        return size_problem(size, "size") or True

    def encode(self, models, reference, size: int):
        from personalive_core import api

        problem = size_problem(size, "size")
        if problem:
            raise InputError(f"EncodeReference: {problem}")
        reference = single_image(reference, "the reference", "EncodeReference")
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
                "models": (MODELS, {"tooltip": "From LoadPersonaLiveModels."}),
                "reference": ("IMAGE", {"tooltip": "The same reference image given to ExtractLivePortraitKeypoints."}),
                "driving": ("IMAGE", {"tooltip": "The same driving frames given to ExtractLivePortraitKeypoints."}),
                "keypoints": (KEYPOINTS, {"tooltip": "From ExtractLivePortraitKeypoints (gives the face crops)."}),
            }
        }

    def encode(self, models, reference, driving, keypoints):
        from personalive_core import api

        node = "MotionEncode"
        reference = single_image(reference, "the reference", node)
        driving = frames(driving, "the driving batch", node)
        same_count(driving.shape[0], "the driving batch", keypoints.num_frames, "the keypoints", node)
        core_models = models.on_device()
        check_interrupt()
        return (api.encode_motion(core_models, reference, driving, keypoints).to(mm.intermediate_device()),)
