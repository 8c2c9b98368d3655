"""ChunkedVAEDecode."""

from __future__ import annotations

import comfy.model_management as mm
import comfy.utils
from comfy_api.v0_0_2 import io

from personalive_core import api

from .common import CATEGORY, check_interrupt, models_input, node_errors, to_intermediate


def latent_samples(latent):
    """The samples of a ComfyUI LATENT; a 5-D video latent (1, 4, frames, h, w) as (frames, 4, h, w)."""
    samples = latent.get("samples") if isinstance(latent, dict) else latent
    if getattr(samples, "ndim", 0) == 5 and samples.shape[0] == 1:
        samples = samples[0].movedim(1, 0)
    return samples


class ChunkedVAEDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ChunkedVAEDecode",
            display_name="Chunked VAE Decode (PersonaLive)",
            category=CATEGORY,
            description="Decodes a LATENT frame batch with PersonaLive's VAE (sd-vae-ft-mse), a few frames at a time "
            "so long videos fit in memory. Shows progress per chunk and can be cancelled between chunks.",
            inputs=[
                models_input("its VAE is used"),
                io.Latent.Input("latent", tooltip="From PersonaLiveSampler4Step."),
                io.Int.Input(
                    "chunk_size",
                    default=8,
                    min=1,
                    max=256,
                    step=1,
                    tooltip="Frames decoded at once. Lower it if decoding runs out of memory; higher is a little "
                    "faster.",
                ),
                io.Boolean.Input(
                    "use_tiny",
                    default=False,
                    tooltip="Decode with the tiny autoencoder (TAESD) instead of the full VAE: much faster, lower "
                    "quality. Only when the tiny autoencoder is available; otherwise you get an error saying what to "
                    "install.",
                ),
            ],
            outputs=[
                io.Image.Output(display_name="images",
                                tooltip="The decoded frames as an IMAGE batch (one image per latent frame)."),
            ],
        )

    @classmethod
    @node_errors
    def execute(cls, models, latent, chunk_size: int, use_tiny: bool):
        core_models = models.on_device()
        pbar = comfy.utils.ProgressBar(1)

        def on_chunk(done: int, total: int, _images) -> None:
            pbar.update_absolute(done, total)
            check_interrupt()

        check_interrupt()
        images = api.decode_latents(
            core_models, latent_samples(latent), chunk_size=chunk_size, use_tiny=use_tiny, on_chunk=on_chunk
        )
        mm.soft_empty_cache()
        return io.NodeOutput(to_intermediate(images))
