"""EncodeReference and MotionEncode."""

from __future__ import annotations

import comfy.model_management as mm
from comfy_api.v0_0_2 import io

from personalive_core import api

from .common import CATEGORY, SizeWidget, check_interrupt, models_input, node_errors, size_input
from .control_inputs import expression_strength_input
from .socket_types import Keypoints, Motion, Reference


class EncodeReference(SizeWidget, io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="EncodeReference",
            display_name="Encode Reference (PersonaLive)",
            category=CATEGORY,
            description="Encodes the reference portrait once (reference UNet features and image embedding). "
            "ComfyUI caches the result, so changing the seed or the driving video does not encode it again.",
            inputs=[
                models_input(),
                io.Image.Input("reference", tooltip="The portrait to animate (one image). It is resized to size x size."),
                size_input(),
            ],
            outputs=[
                Reference.Output(display_name="reference",
                                 tooltip="Reference features for PersonaLiveSampler4Step."),
            ],
        )

    @classmethod
    @node_errors
    def execute(cls, models, reference, size: int):
        core_models = models.on_device()
        check_interrupt()
        # Cached by ComfyUI between runs: keep it off the compute device (the sampler moves it back).
        return io.NodeOutput(api.encode_reference(core_models, reference, size=size).to(mm.intermediate_device()))


class MotionEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="MotionEncode",
            display_name="Motion Encode (PersonaLive)",
            category=CATEGORY,
            description="Encodes the facial motion of every driving frame (face crops from the keypoints) into "
            "motion tokens for the sampler.",
            inputs=[
                models_input(),
                io.Image.Input("reference", tooltip="The same reference image given to ExtractLivePortraitKeypoints."),
                io.Image.Input("driving", tooltip="The same driving frames given to ExtractLivePortraitKeypoints."),
                Keypoints.Input("keypoints", tooltip="From ExtractLivePortraitKeypoints (gives the face crops)."),
                expression_strength_input(" (relative to the driver's first frame when the keypoints are relative)"),
            ],
            outputs=[
                Motion.Output(display_name="motion", tooltip="Motion tokens, one set per driving frame."),
            ],
        )

    @classmethod
    @node_errors
    def execute(cls, models, reference, driving, keypoints, expression_strength: float = 1.0):
        core_models = models.on_device()
        check_interrupt()
        motion = api.encode_motion(core_models, reference, driving, keypoints, expression_strength=expression_strength)
        return io.NodeOutput(motion.to(mm.intermediate_device()))
