"""PersonaLiveSampler4Step."""

from __future__ import annotations

import comfy.latent_formats
import comfy.model_management as mm
import comfy.utils
import latent_preview
from comfy_api.v0_0_2 import io

from personalive_core import api
from personalive_core.errors import PersonaLiveError
from personalive_core.window import CHUNK_FRAMES, chunk_count

from .common import CATEGORY, check_interrupt, models_input, node_errors, to_intermediate
from .socket_types import Motion, Reference


class PersonaLiveSampler4Step(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="PersonaLiveSampler4Step",
            display_name="PersonaLive Sampler (4 steps)",
            category=CATEGORY,
            description=f"Generates the animation with PersonaLive's 4-step streaming denoiser, one window of "
            f"{CHUNK_FRAMES} frames at a time. Outputs one latent frame per driving frame as a standard LATENT "
            "(unscaled SD VAE latents), so ChunkedVAEDecode or core VAE Decode can decode it. Shows a progress bar "
            "per window; Cancel stops it between windows.",
            inputs=[
                models_input(),
                Reference.Input("reference", tooltip="From EncodeReference."),
                io.Image.Input("pose_maps", tooltip="From RenderPoseMap, with include_lead_in on."),
                Motion.Input("motion", tooltip="From MotionEncode."),
                io.Int.Input(
                    "seed",
                    default=0,
                    min=0,
                    max=0xFFFFFFFFFFFFFFFF,
                    control_after_generate=True,
                    tooltip="Seed of the initial noise. The same seed and inputs give the same animation.",
                ),
                io.Boolean.Input(
                    "include_lead_in",
                    default=False,
                    tooltip="Also output the lead-in frames the stream warms up with (they come first and only repeat "
                    "the reference pose). Off: exactly one frame per driving frame.",
                ),
                io.Boolean.Input(
                    "preview",
                    default=True,
                    tooltip="Show a preview of the newest frame after every window (uses ComfyUI's preview method "
                    "setting; costs a little time).",
                ),
                io.Boolean.Input(
                    "compile",
                    default=False,
                    tooltip="torch.compile the denoising UNet (with CUDA graphs on an NVIDIA GPU): the first run "
                    "compiles for a minute or more, later runs with the same size are faster. Same frames within "
                    "rounding.",
                    optional=True,
                ),
            ],
            outputs=[
                io.Latent.Output(
                    display_name="latent",
                    tooltip="{'samples': (frames, 4, height/8, width/8)}: one latent per driving frame (plus the "
                    "lead-in frames first when include_lead_in is on).",
                ),
            ],
        )

    @classmethod
    @node_errors
    def execute(cls, models, reference, pose_maps, motion, seed: int, include_lead_in: bool, preview: bool,
                compile: bool = False):
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
                compile=compile,
            )
        except PersonaLiveError:
            if mm.processing_interrupted():
                check_interrupt()  # the core stopped because we asked: end the run as "interrupted"
            raise
        pbar.update_absolute(pbar.total, pbar.total)  # the last windows may only flush: show 100%
        return io.NodeOutput({"samples": to_intermediate(latents)})
