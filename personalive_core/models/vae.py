"""The latent codec: diffusers `AutoencoderKL` (sd-vae-ft-mse) with the original scaling.

Encoding uses the posterior mean (no sampling) times `fl32(0.18215)`; decoding multiplies by
`fl32(1/0.18215)` (a multiplication, not a division: the two differ in the last bit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from PIL import Image

from ..weights import LoadReport, load_into, load_state_dict_file, locate
from ._loading import OnDevice, assert_materialised, cast_empty, check_dtype, read_config

LATENT_SCALE = 0.18215  # hard-coded by the original wrapper (not read from the VAE config)

# Checkpoints saved by old diffusers versions (as sd-vae-ft-mse was) name the mid-block attention
# projections differently; diffusers renames them when it loads a file itself.
_LEGACY_ATTENTION_NAMES = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


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


def load_vae(
    root: str | Path, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> tuple[AutoencoderKL, LoadReport]:
    """Build the VAE from `root/sd-vae-ft-mse/`."""
    check_dtype(dtype)
    paths = locate(root, ["vae_config", "vae"])
    with torch.device("meta"):
        model = AutoencoderKL.from_config(read_config(paths["vae_config"]))
    cast_empty(model, dtype)
    state = _rename_legacy_attention(load_state_dict_file(paths["vae"]))
    report = load_into(model, [("vae", OnDevice(state, device, dtype))], model="VAE")
    assert_materialised(model, "VAE")
    return model.eval().requires_grad_(False), report


def _rename_legacy_attention(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map `…mid_block.attentions.0.{query,key,value,proj_attn}` to the current names.

    Legacy files may store these projections as 1x1 convolutions `(C, C, 1, 1)`; they are linear
    layers, so the trailing unit dimensions are dropped.
    """
    renamed = {}
    for key, value in state.items():
        prefix, _, rest = key.rpartition(".attentions.0.")
        if prefix and "." in rest:
            name, _, leaf = rest.partition(".")
            if name in _LEGACY_ATTENTION_NAMES:
                key = f"{prefix}.attentions.0.{_LEGACY_ATTENTION_NAMES[name]}.{leaf}"
                if value.ndim == 4:
                    value = value[:, :, 0, 0]
        renamed[key] = value
    return renamed
