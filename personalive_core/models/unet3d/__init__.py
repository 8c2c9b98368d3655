"""The denoising 3D UNet of PersonaLive and the reference keys/values it attends to."""

from .config import denoising_unet_config
from .loading import build_denoising_unet, load_denoising_unet
from .reference_attention import ReferenceAttention
from .unet import DenoisingUNet3D

__all__ = [
    "DenoisingUNet3D",
    "ReferenceAttention",
    "build_denoising_unet",
    "denoising_unet_config",
    "load_denoising_unet",
]
