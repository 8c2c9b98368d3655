"""Everything computed once per reference portrait and reused for every frame."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from .loading import PersonaLiveModels

KEYPOINT_INPUT_SIZE = 256


@dataclass
class ReferenceFeatures:
    """The encoded reference portrait.

    `image` is the portrait stretched to `size` x `size` in [-1,1] (the reference face is cropped
    from it), `latents` its VAE latents times 0.18215, `clip_tokens` the CLIP image embedding
    (1,1,D), `kp_input` the keypoint detector's view (1,3,256,256) in [0,1], and `features` the
    reference UNet's per-block self-attention inputs (block path -> (1,L,C)).
    """

    image: torch.Tensor
    latents: torch.Tensor
    clip_tokens: torch.Tensor
    kp_input: torch.Tensor
    features: dict[str, torch.Tensor]

    @property
    def size(self) -> int:
        return self.image.shape[-1]

    def to(self, device) -> "ReferenceFeatures":
        return ReferenceFeatures(
            self.image.to(device), self.latents.to(device), self.clip_tokens.to(device), self.kp_input.to(device),
            {k: v.to(device) for k, v in self.features.items()},
        )


@torch.no_grad()
def encode_reference(models: PersonaLiveModels, portrait: Image.Image, size: int = 512) -> ReferenceFeatures:
    """Encode a PIL portrait as the original does (stretched, not cropped, to `size` for the VAE)."""
    from .models.image_encoder import clip_pixel_values, encode_clip
    from .models.vae import encode_latents, vae_pixels

    from .residency import START_NETWORKS

    device, dtype = models.device, models.dtype
    with models.residency.borrow(models, START_NETWORKS):  # low_vram: on the compute device for this step only
        clip_tokens = encode_clip(models.image_encoder, clip_pixel_values(portrait).to(device, dtype))
        pixels = vae_pixels(portrait, size)
        latents = encode_latents(models.vae, pixels.to(device, dtype))
        features = models.reference_unet.write_features(latents, clip_tokens)
    return ReferenceFeatures(pixels[0].to(device, dtype), latents, clip_tokens, keypoint_view(portrait).to(device, dtype),
                             features)


def keypoint_view(portrait: Image.Image) -> torch.Tensor:
    """The keypoint detector's view of the reference: LANCZOS 256x256, (1,3,256,256) in [0,1]."""
    from .models.vae import vae_pixels

    return vae_pixels(portrait, KEYPOINT_INPUT_SIZE) / 2 + 0.5  # (2u-1)/2+0.5 as the original, not u
