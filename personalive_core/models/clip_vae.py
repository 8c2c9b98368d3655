"""CLIP image encoder and VAE with the original preprocessing (one import place for both)."""

from .image_encoder import clip_pixel_values, encode_clip, load_image_encoder
from .vae import LATENT_SCALE, decode_latents, encode_latents, load_vae, vae_pixels

__all__ = [
    "LATENT_SCALE",
    "clip_pixel_values",
    "decode_latents",
    "encode_clip",
    "encode_latents",
    "load_image_encoder",
    "load_vae",
    "vae_pixels",
]
