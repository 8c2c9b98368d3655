"""ExtractLivePortraitKeypoints and RenderPoseMap."""

from __future__ import annotations

import comfy.model_management as mm
from comfy_api.v0_0_2 import io

from personalive_core import api
from personalive_core.checks import CROP_METHODS, crop_method_problem
from personalive_core.motion_controls import MotionControls

from . import model_folder
from .common import CATEGORY, SizeWidget, check_interrupt, models_input, node_errors, size_input, to_intermediate
from .control_inputs import motion_mode_input, pose_strength_input, smoothing_input
from .socket_types import Keypoints


class ExtractLivePortraitKeypoints(SizeWidget, io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ExtractLivePortraitKeypoints",
            display_name="Extract LivePortrait Keypoints",
            category=CATEGORY,
            description="Finds the face in the reference and in every driving frame and extracts LivePortrait-style "
            "3D keypoints: head pose, translation, scale and face box per frame. Feed the result to RenderPoseMap "
            "and MotionEncode.",
            inputs=[
                models_input(),
                io.Image.Input("reference", tooltip="The portrait to animate: one image with a clearly visible face."),
                io.Image.Input(
                    "driving",
                    tooltip="The driving frames (a video's IMAGE batch, or a single image) whose head motion and "
                    "expression are transferred.",
                ),
                io.Combo.Input(
                    "crop_method",
                    options=list(CROP_METHODS),
                    default="keypoints",
                    tooltip="How faces are cropped before motion encoding. keypoints: boxes from the motion "
                    "extractor's own keypoints (no extra dependency). mediapipe: MediaPipe face mesh like the "
                    "original offline mode (needs the optional mediapipe extra).",
                ),
                size_input(),
                pose_strength_input(),
                motion_mode_input("the driver's first frame counts as neutral, so only its changes move the "
                                  "portrait (MotionEncode follows this too)."),
                smoothing_input(),
            ],
            outputs=[
                Keypoints.Output(
                    display_name="keypoints",
                    tooltip="Keypoints of the reference and of every driving frame (plus the lead-in the sampler "
                    "needs).",
                )
            ],
        )

    @classmethod
    def validate_inputs(cls, size=None, crop_method=None):
        """Also reject an unknown crop method, or mediapipe where it cannot run, before any work (ComfyUI
        leaves the checks of the inputs named here to this method)."""
        problem = crop_method_problem(crop_method, model_folder.face_model()) if crop_method is not None else None
        return problem or super().validate_inputs(size)

    @classmethod
    @node_errors
    def execute(cls, models, reference, driving, crop_method: str, size: int = 512, pose_strength: float = 1.0,
                motion_mode: str = "absolute", smoothing: float = 0.0):
        controls = MotionControls(pose_strength=pose_strength, mode=motion_mode, smoothing=smoothing)
        core_models = models.on_device()
        check_interrupt()
        kps = api.extract_keypoints(core_models, reference, driving, crop_method=crop_method, size=size,
                                    controls=controls, face_model=model_folder.face_model())
        return io.NodeOutput(kps.to(mm.intermediate_device()))  # cached by ComfyUI: keep it off the compute device


class RenderPoseMap(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RenderPoseMap",
            display_name="Render Pose Map",
            category=CATEGORY,
            description="Draws the keypoints as pose maps (one image per frame, lead-in first) for the sampler's "
            "pose guider. Also useful to look at what the motion extractor saw.",
            inputs=[
                Keypoints.Input("keypoints", tooltip="From ExtractLivePortraitKeypoints."),
                io.Boolean.Input(
                    "include_lead_in",
                    default=True,
                    tooltip="Prepend the lead-in pose maps the sampler warms up with. Keep it on when the maps go to "
                    "PersonaLiveSampler4Step; turn it off to preview only the driving frames.",
                ),
            ],
            outputs=[
                io.Image.Output(
                    display_name="pose_maps",
                    tooltip="Pose maps as an IMAGE batch: the lead-in frames (if included) followed by one per "
                    "driving frame.",
                )
            ],
        )

    @classmethod
    @node_errors
    def execute(cls, keypoints, include_lead_in: bool):
        maps = api.render_pose_maps(keypoints, include_lead_in=include_lead_in)
        return io.NodeOutput(to_intermediate(maps))
