"""ChunkedVAEDecode."""

from __future__ import annotations

import comfy.model_management as mm
import comfy.utils
import torch

from personalive_core.errors import InputError

from .common import CATEGORY, MODELS, check_interrupt, to_intermediate


def latent_frames(latent, node: str) -> torch.Tensor:
    """The LATENT's samples as (frames, 4, h, w); a 5-D (1, 4, frames, h, w) video latent is accepted too."""
    samples = latent.get("samples") if isinstance(latent, dict) else None
    if not isinstance(samples, torch.Tensor):
        raise InputError(f"{node}: the LATENT has no 'samples' tensor")
    if samples.ndim == 5 and samples.shape[0] == 1:
        samples = samples[0].movedim(1, 0)
    if samples.ndim != 4 or samples.shape[1] != 4:
        raise InputError(
            f"{node}: expected SD latents shaped (frames, 4, height/8, width/8); got {tuple(samples.shape)}. "
            "Connect the LATENT of PersonaLiveSampler4Step (or another SD1.x latent)."
        )
    if samples.shape[0] == 0:
        raise InputError(f"{node}: the LATENT holds 0 frames")
    return samples


class ChunkedVAEDecode:
    DESCRIPTION = (
        "Decodes a LATENT frame batch with PersonaLive's VAE (sd-vae-ft-mse), a few frames at a time so long "
        "videos fit in memory. Shows progress per chunk and can be cancelled between chunks."
    )
    CATEGORY = CATEGORY
    FUNCTION = "decode"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    OUTPUT_TOOLTIPS = ("The decoded frames as an IMAGE batch (one image per latent frame).",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "models": (MODELS, {"tooltip": "From LoadPersonaLiveModels (its VAE is used)."}),
                "latent": ("LATENT", {"tooltip": "From PersonaLiveSampler4Step."}),
                "chunk_size": (
                    "INT",
                    {
                        "default": 8,
                        "min": 1,
                        "max": 256,
                        "step": 1,
                        "tooltip": "Frames decoded at once. Lower it if decoding runs out of memory; higher is a "
                        "little faster.",
                    },
                ),
                "use_tiny": (
                    "BOOLEAN",
                    {
                        "default": False,
                        "tooltip": "Decode with the tiny autoencoder (TAESD) instead of the full VAE: much faster, "
                        "lower quality. Only when the tiny autoencoder is available; otherwise you get "
                        "an error saying what to install.",
                    },
                ),
            }
        }

    def decode(self, models, latent, chunk_size: int, use_tiny: bool):
        from personalive_core import api

        node = "ChunkedVAEDecode"
        samples = latent_frames(latent, node)
        if chunk_size < 1:
            raise InputError(f"{node}: chunk_size must be at least 1; got {chunk_size}")
        core_models = models.on_device()
        total = samples.shape[0]
        pbar = comfy.utils.ProgressBar(total)
        decoded = []
        for start in range(0, total, chunk_size):
            check_interrupt()
            chunk = samples[start : start + chunk_size]
            images = api.decode_latents(core_models, chunk, chunk_size=chunk_size, use_tiny=use_tiny)
            decoded.append(to_intermediate(images))
            pbar.update_absolute(min(start + chunk_size, total), total)
        mm.soft_empty_cache()
        return (torch.cat(decoded, dim=0),)
