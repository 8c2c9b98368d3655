"""The denoising 3D UNet of PersonaLive and the reference keys/values it attends to."""

import torch

from .config import denoising_unet_config
from .reference_attention import ReferenceAttention
from .unet import DenoisingUNet3D


def build_denoising_unet(base_config: dict, **overrides) -> DenoisingUNet3D:
    """An empty (meta-device) denoising UNet for a base `unet/config.json` dict."""
    with torch.device("meta"):
        return DenoisingUNet3D(**denoising_unet_config(base_config, **overrides))


__all__ = [
    "DenoisingUNet3D",
    "ReferenceAttention",
    "build_denoising_unet",
    "denoising_unet_config",
]
