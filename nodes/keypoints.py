"""ExtractLivePortraitKeypoints and RenderPoseMap."""

from __future__ import annotations

import comfy.model_management as mm

from personalive_core import api
from personalive_core.checks import CROP_METHODS, crop_method_problem
from personalive_core.motion_controls import MotionControls

from .common import (
    CATEGORY,
    KEYPOINTS,
    SIZE_INPUT,
    SizeWidget,
    check_interrupt,
    models_input,
    node_method,
    to_intermediate,
)
from .control_inputs import motion_mode_input, pose_strength_input, smoothing_input


class ExtractLivePortraitKeypoints(SizeWidget):
    DESCRIPTION = (
        "Finds the face in the reference and in every driving frame and extracts LivePortrait-style 3D "
        "keypoints: head pose, translation, scale and face box per frame. Feed the result to RenderPoseMap "
        "and MotionEncode."
    )
    CATEGORY = CATEGORY
    FUNCTION = "extract"
    RETURN_TYPES = (KEYPOINTS,)
    RETURN_NAMES = ("keypoints",)
    OUTPUT_TOOLTIPS = ("Keypoints of the reference and of every driving frame (plus the lead-in the sampler needs).",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "models": models_input(),
                "reference": ("IMAGE", {"tooltip": "The portrait to animate: one image with a clearly visible face."}),
                "driving": (
                    "IMAGE",
                    {
                        "tooltip": "The driving frames (a video's IMAGE batch, or a single image) whose "
                        "head motion and expression are transferred."
                    },
                ),
                "crop_method": (
                    list(CROP_METHODS),
                    {
                        "default": "keypoints",
                        "tooltip": "How faces are cropped before motion encoding. keypoints: boxes from the motion "
                        "extractor's own keypoints (no extra dependency). mediapipe: MediaPipe face mesh "
                        "like the original offline mode (needs the optional mediapipe extra).",
                    },
                ),
                "size": SIZE_INPUT,
            },
            "optional": {
                "pose_strength": pose_strength_input(),
                "motion_mode": motion_mode_input("the driver's first frame counts as neutral, so only its changes "
                                                 "move the portrait (MotionEncode follows this too)."),
                "smoothing": smoothing_input(),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, size=None, crop_method=None):
        """Also reject an unknown crop method, or mediapipe where it cannot run, before any work (ComfyUI
        leaves the checks of the inputs named here to this method)."""
        problem = crop_method_problem(crop_method) if crop_method is not None else None
        return problem or super().VALIDATE_INPUTS(size)

    @node_method
    def extract(self, models, reference, driving, crop_method: str, size: int = 512, pose_strength: float = 1.0,
                motion_mode: str = "absolute", smoothing: float = 0.0):
        controls = MotionControls(pose_strength=pose_strength, mode=motion_mode, smoothing=smoothing)
        core_models = models.on_device()
        check_interrupt()
        kps = api.extract_keypoints(core_models, reference, driving, crop_method=crop_method, size=size,
                                    controls=controls)
        return (kps.to(mm.intermediate_device()),)  # cached by ComfyUI: keep it off the compute device


class RenderPoseMap:
    DESCRIPTION = (
        "Draws the keypoints as pose maps (one image per frame, lead-in first) for the sampler's pose guider. "
        "Also useful to look at what the motion extractor saw."
    )
    CATEGORY = CATEGORY
    FUNCTION = "render"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("pose_maps",)
    OUTPUT_TOOLTIPS = (
        "Pose maps as an IMAGE batch: the lead-in frames (if included) followed by one per driving frame.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "keypoints": (KEYPOINTS, {"tooltip": "From ExtractLivePortraitKeypoints."}),
                "include_lead_in": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "Prepend the lead-in pose maps the sampler warms up with. Keep it on when the maps "
                        "go to PersonaLiveSampler4Step; turn it off to preview only the driving frames.",
                    },
                ),
            }
        }

    @node_method
    def render(self, keypoints, include_lead_in: bool):
        maps = api.render_pose_maps(keypoints, include_lead_in=include_lead_in)
        return (to_intermediate(maps),)
