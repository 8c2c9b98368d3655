"""ExtractLivePortraitKeypoints and RenderPoseMap."""

from __future__ import annotations

import importlib

import comfy.model_management as mm

from personalive_core.errors import InputError

from .common import CATEGORY, KEYPOINTS, MODELS, check_interrupt, frames, single_image, size_problem, to_intermediate

CROP_METHODS = ["keypoints", "mediapipe"]


def mediapipe_problem() -> str | None:
    """Why MediaPipe face mesh cannot be used here, or None when it can (checked at run time)."""
    from personalive_core.face_mesh import MEDIAPIPE_HINT as hint

    try:
        mp = importlib.import_module("mediapipe")
    except ImportError:
        return f"crop_method 'mediapipe' needs the mediapipe package, which is not installed. {hint}"
    except Exception as exc:  # a broken install raises all sorts of errors at import
        return f"crop_method 'mediapipe': the installed mediapipe fails to import ({type(exc).__name__}: {exc}). {hint}"
    try:
        importlib.import_module("mediapipe.python.solutions.face_mesh")
    except Exception:
        if getattr(getattr(mp, "solutions", None), "face_mesh", None) is None:
            version = getattr(mp, "__version__", "?")
            return (
                f"crop_method 'mediapipe': mediapipe {version} has no face mesh solution "
                f"(releases after 0.10.21 dropped it). {hint}"
            )
    return None


class ExtractLivePortraitKeypoints:
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
                "models": (MODELS, {"tooltip": "From LoadPersonaLiveModels."}),
                "reference": ("IMAGE", {"tooltip": "The portrait to animate: one image with a clearly visible face."}),
                "driving": (
                    "IMAGE",
                    {
                        "tooltip": "The driving frames (a video's IMAGE batch, or a single image) whose "
                        "head motion and expression are transferred."
                    },
                ),
                "crop_method": (
                    CROP_METHODS,
                    {
                        "default": "keypoints",
                        "tooltip": "How faces are cropped before motion encoding. keypoints: boxes from the motion "
                        "extractor's own keypoints (no extra dependency). mediapipe: MediaPipe face mesh "
                        "like the original offline mode (needs the optional mediapipe extra).",
                    },
                ),
                "size": (
                    "INT",
                    {
                        "default": 512,
                        "min": 64,
                        "max": 2048,
                        "step": 64,
                        "tooltip": "Working resolution in pixels (square), a multiple of 64: driving frames are "
                        "centre-cropped to a square and resized to it. Use the same value as in "
                        "EncodeReference; PersonaLive was trained at 512.",
                    },
                ),
            }
        }

    @classmethod
    def VALIDATE_INPUTS(cls, size=None):
        if size is None:
            return True
        return size_problem(size, "size") or True

    def extract(self, models, reference, driving, crop_method: str, size: int = 512):
        from personalive_core import api

        node = "ExtractLivePortraitKeypoints"
        reference = single_image(reference, "the reference", node)
        driving = frames(driving, "the driving batch", node)
        problem = size_problem(size, "size")
        if problem:
            raise InputError(f"{node}: {problem}")
        if crop_method not in CROP_METHODS:
            raise InputError(f"{node}: unknown crop_method {crop_method!r}; use one of {CROP_METHODS}")
        if crop_method == "mediapipe":
            problem = mediapipe_problem()
            if problem:
                from personalive_core.face_mesh import FaceMeshUnavailable

                raise FaceMeshUnavailable(problem)
        core_models = models.on_device()
        check_interrupt()
        kps = api.extract_keypoints(core_models, reference, driving, crop_method=crop_method, size=size)
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

    def render(self, keypoints, include_lead_in: bool):
        from personalive_core import api

        maps = api.render_pose_maps(keypoints, include_lead_in=include_lead_in)
        return (to_intermediate(maps),)
