"""PersonaLiveSampler4Step."""

from __future__ import annotations

import comfy.latent_formats
import comfy.model_management as mm
import comfy.utils
import latent_preview

from personalive_core import api
from personalive_core.errors import PersonaLiveError
from personalive_core.window import CHUNK_FRAMES, chunk_count

from .common import CATEGORY, MOTION, REFERENCE, check_interrupt, models_input, node_method, to_intermediate


class PersonaLiveSampler4Step:
    DESCRIPTION = (
        f"Generates the animation with PersonaLive's 4-step streaming denoiser, one window of {CHUNK_FRAMES} "
        "frames at a time. Outputs one latent frame per driving frame as a standard LATENT (unscaled SD VAE "
        "latents), so ChunkedVAEDecode or core VAE Decode can decode it. Shows a progress bar per window; Cancel "
        "stops it between windows."
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
                "models": models_input(),
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

    @node_method
    def sample(self, models, reference, pose_maps, motion, seed: int, include_lead_in: bool, preview: bool):
        core_models = models.on_device()
        pbar = comfy.utils.ProgressBar(max(1, chunk_count(motion.num_frames)))
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
        except PersonaLiveError:
            if mm.processing_interrupted():
                check_interrupt()  # the core stopped because we asked: end the run as "interrupted"
            raise
        pbar.update_absolute(pbar.total, pbar.total)  # the last windows may only flush: show 100%
        return ({"samples": to_intermediate(latents)},)
