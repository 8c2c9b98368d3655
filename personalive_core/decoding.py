"""Latents -> frames, a few frames at a time, with the full VAE or the tiny autoencoder (TAESD).

Latents here are in ComfyUI's convention: raw VAE latents ("unscaled"), i.e. the UNet-space latents
multiplied by 1/0.18215 (a multiplication by the fp32 constant, as the original decodes).
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from .errors import InputError, WeightsError
from .models.vae import LATENT_SCALE

INV_LATENT_SCALE = 1 / LATENT_SCALE
TINY_DECODER_DIR = "taesd"  # optional: ROOT/taesd/{config.json, diffusion_pytorch_model.safetensors} (madebyollin/taesd)
TINY_DECODER_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")  # first found is read


def unscale(latents: torch.Tensor) -> torch.Tensor:
    """UNet-space latents -> raw VAE latents."""
    return latents * INV_LATENT_SCALE


def scale(latents: torch.Tensor) -> torch.Tensor:
    """Raw VAE latents -> UNet-space latents."""
    return latents * LATENT_SCALE


@torch.no_grad()
def decode_chunks(vae: nn.Module, latents: torch.Tensor, chunk_size: int = 8) -> Iterator[torch.Tensor]:
    """Decode raw latents (F,4,h,w) `chunk_size` frames at a time; yields (k,H,W,3) float32 in [0,1] on the CPU.

    Works with `AutoencoderKL` and `AutoencoderTiny` (which expects UNet-space latents).
    """
    if chunk_size < 1:
        raise InputError(f"chunk_size must be at least 1; got {chunk_size}")
    param = next(vae.parameters())
    tiny = type(vae).__name__ == "AutoencoderTiny"
    for start in range(0, latents.shape[0], chunk_size):
        z = latents[start:start + chunk_size].to(param.device, param.dtype)
        images = vae.decode(scale(z) if tiny else z).sample
        yield (images.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu()


def decode_all(vae: nn.Module, latents: torch.Tensor, chunk_size: int = 8,
               on_chunk: Callable[[int, int, torch.Tensor], None] | None = None) -> torch.Tensor:
    """All frames (F,H,W,3) in [0,1]; peak decoder memory is that of `chunk_size` frames.

    `on_chunk(frames_done, frames_total, images)` runs after every chunk (progress, cancelling)."""
    frames, done = [], 0
    for images in decode_chunks(vae, latents, chunk_size):
        frames.append(images)
        done += images.shape[0]
        if on_chunk is not None:
            on_chunk(done, latents.shape[0], images)
    return torch.cat(frames)


def load_tiny_decoder(root: str | Path, dtype=torch.float32, device="cpu") -> nn.Module:
    """The tiny autoencoder from ROOT/taesd (diffusers `AutoencoderTiny` layout), or a clear error."""
    from diffusers import AutoencoderTiny

    from .weights import load_into, load_state_dict_file

    problem = tiny_decoder_problem(root)
    if problem:
        raise WeightsError(problem)
    folder = Path(root) / TINY_DECODER_DIR
    weights = _tiny_decoder_weights(folder)
    config = AutoencoderTiny.load_config(str(folder))
    with torch.device("meta"):
        model = AutoencoderTiny.from_config(config)
    load_into(model.to(dtype), [(weights.name, load_state_dict_file(weights))], model="taesd")
    return model.to(device).eval()


DECODERS = ("vae", "taesd")  # the full VAE (exact) or the tiny autoencoder (much faster, lower quality)


def tiny_decoder_problem(root: str | Path) -> str | None:
    """Why ROOT/taesd cannot be loaded (files missing), or None; cheap, for checks before the models load."""
    folder = Path(root) / TINY_DECODER_DIR
    if (folder / "config.json").is_file() and _tiny_decoder_weights(folder):
        return None
    return (f"The tiny autoencoder is not installed: put config.json and diffusion_pytorch_model.safetensors "
            f"from https://huggingface.co/madebyollin/taesd into {folder}, or turn the tiny decoder off.")


def _tiny_decoder_weights(folder: Path) -> Path | None:
    return next((folder / name for name in TINY_DECODER_WEIGHTS if (folder / name).is_file()), None)


def decoder_for(models, decoder: str = "vae") -> nn.Module:
    """The network that turns latents into frames: `models.vae`, or the tiny autoencoder for 'taesd'."""
    if decoder not in DECODERS:
        raise InputError(f"unknown decoder {decoder!r}; use one of {list(DECODERS)}")
    return tiny_decoder_for(models) if decoder == "taesd" else models.vae


_TINY_DECODERS: dict[int, nn.Module] = {}  # id(models) -> its tiny autoencoder, dropped with the models


def tiny_decoder_for(models) -> nn.Module:
    """The tiny autoencoder of `models.root`, read once per models object, on the models' device."""
    key = id(models)
    decoder = _TINY_DECODERS.get(key)
    if decoder is None:
        decoder = load_tiny_decoder(models.root, models.dtype, models.device)
        _TINY_DECODERS[key] = decoder
        weakref.finalize(models, _TINY_DECODERS.pop, key, None)
    return decoder.to(models.device)
