"""The latent codec: diffusers `AutoencoderKL` (sd-vae-ft-mse) with the original scaling.

Encoding uses the posterior mean (no sampling) times `fl32(0.18215)`; decoding multiplies by
`fl32(1/0.18215)` (a multiplication, not a division: the two differ in the last bit).
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import AutoencoderKL
from PIL import Image

LATENT_SCALE = 0.18215  # hard-coded by the original wrapper (not read from the VAE config)


def vae_pixels(image: Image.Image, size: int) -> torch.Tensor:
    """`(1, 3, size, size)` float32 in [-1, 1], as diffusers' `VaeImageProcessor` makes it.

    LANCZOS resize to exactly `size` x `size` (aspect ratio not kept) *before* the RGB conversion,
    `float32(u8) / 255`, then `2x - 1`. The result keeps the channels-last strides of the HWC array:
    CPU convolutions round differently on differently laid-out inputs, and the original encodes this
    strided tensor.
    """
    image = image.resize((size, size), resample=Image.Resampling.LANCZOS).convert("RGB")
    pixels = np.asarray(image).astype(np.float32) / 255.0
    tensor = torch.from_numpy(pixels[None]).permute(0, 3, 1, 2)
    return 2.0 * tensor - 1.0


@torch.no_grad()
def encode_latents(vae: AutoencoderKL, pixels: torch.Tensor) -> torch.Tensor:
    """Posterior mean of `pixels` in [-1, 1] times 0.18215: `(N, 4, h, w)`."""
    pixels = pixels.to(device=vae.device, dtype=vae.dtype)
    return vae.encode(pixels).latent_dist.mean * LATENT_SCALE


@torch.no_grad()
def decode_latents(vae: AutoencoderKL, latents_scaled: torch.Tensor) -> torch.Tensor:
    """Decode latents that carry the 0.18215 factor; images in about [-1, 1], not clamped."""
    latents = latents_scaled.to(device=vae.device, dtype=vae.dtype)
    return vae.decode(latents * (1 / LATENT_SCALE)).sample
