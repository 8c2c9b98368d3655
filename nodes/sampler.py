"""PersonaLiveSampler4Step."""

from __future__ import annotations

import comfy.latent_formats
import comfy.model_management as mm
import comfy.utils
import latent_preview

from personalive_core.errors import InputError

from .common import CATEGORY, MODELS, MOTION, REFERENCE, check_interrupt, frames, lead_in_frames, to_intermediate

WINDOW = 4  # frames the denoiser adds per step of the stream


class PersonaLiveSampler4Step:
    DESCRIPTION = (
        "Generates the animation with PersonaLive's 4-step streaming denoiser, one window of 4 frames at a "
        "time. Outputs one latent frame per driving frame as a standard LATENT (unscaled SD VAE latents), so "
        "ChunkedVAEDecode or core VAE Decode can decode it. Shows a progress bar per window; Cancel stops it "
        "between windows."
    )
    CATEGORY = CATEGORY
    FUNCTION = "sample"
    RETURN_TYPES = ("LATENT",)
    RETURN_NAMES = ("latent",)
    OUTPUT_TOOLTIPS = (
        "{'samples': (frames, 4, height/8, width/8)}: one latent per driving frame "
        "(plus the lead-in frames first when include_lead_in is on).",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "models": (MODELS, {"tooltip": "From LoadPersonaLiveModels."}),
                "reference": (REFERENCE, {"tooltip": "From EncodeReference."}),
                "pose_maps": ("IMAGE", {"tooltip": "From RenderPoseMap, with include_lead_in on."}),
                "motion": (MOTION, {"tooltip": "From MotionEncode."}),
                "seed": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 0xFFFFFFFFFFFFFFFF,
                        "control_after_generate": True,
                        "tooltip": "Seed of the initial noise. The same seed and inputs give the same animation.",
                    },
                ),
                "include_lead_in": (
                    "BOOLEAN",
                    {
                        "default": False,
                        "tooltip": "Also output the lead-in frames the stream warms up with (they come first and only "
                        "repeat the reference pose). Off: exactly one frame per driving frame.",
                    },
                ),
                "preview": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "Show a preview of the newest frame after every window (uses ComfyUI's preview "
                        "method setting; costs a little time).",
                    },
                ),
            }
        }

    def sample(self, models, reference, pose_maps, motion, seed: int, include_lead_in: bool, preview: bool):
        from personalive_core import api, errors

        node = "PersonaLiveSampler4Step"
        pose_maps = frames(pose_maps, "pose_maps", node)
        lead = lead_in_frames()
        n = int(motion.num_frames)
        if pose_maps.shape[0] != n + lead:
            hint = (
                "the pose maps have no lead-in: turn include_lead_in on in RenderPoseMap"
                if pose_maps.shape[0] == n
                else "pose maps and motion must come from the same driving frames"
            )
            raise InputError(
                f"{node}: expected {n + lead} pose maps ({lead} lead-in + {n} driving frames, matching the motion "
                f"tokens) but got {pose_maps.shape[0]}; {hint}."
            )
        height, width = pose_maps.shape[1:3]
        if height % 8 or width % 8:
            raise InputError(f"{node}: pose maps are {width}x{height}; both sides must be multiples of 8.")

        core_models = models.on_device()
        windows = max(1, -(-n // WINDOW))
        pbar = comfy.utils.ProgressBar(windows)
        latent_format = comfy.latent_formats.SD15()
        previewer = latent_preview.get_previewer(mm.get_torch_device(), latent_format) if preview else None

        def on_window(done: int, total: int, latents_chunk) -> None:
            check_interrupt()
            image = None
            if previewer is not None and latents_chunk is not None and len(latents_chunk):
                newest = latents_chunk[-1:].float() * latent_format.scale_factor
                image = previewer.decode_latent_to_preview_image("JPEG", newest)
            pbar.update_absolute(done, total, image)

        try:
            latents = api.sample(
                core_models,
                reference,
                pose_maps,
                motion,
                seed=seed,
                include_lead_in=include_lead_in,
                on_window=on_window,
                should_stop=mm.processing_interrupted,
            )
        except errors.PersonaLiveError:
            if mm.processing_interrupted():
                check_interrupt()  # the core stopped because we asked: end the run as "interrupted"
            raise
        pbar.update_absolute(pbar.total, pbar.total)  # the last windows may only flush: show 100%
        return ({"samples": to_intermediate(latents)},)
