"""The CLIP image encoder: one global appearance token of the reference image.

transformers `CLIPVisionModelWithProjection` from the official `image_encoder/` folder. The
preprocessing reproduces the default `CLIPImageProcessor` of transformers 4.36 (the version the
original pins) with PIL and numpy, so that it does not depend on the installed processor version.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from transformers import CLIPVisionModelWithProjection

CLIP_SIZE = 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def clip_pixel_values(image: Image.Image, size: int = CLIP_SIZE) -> torch.Tensor:
    """`(1, 3, size, size)` float32 CLIP input, as the default `CLIPImageProcessor` makes it.

    RGB conversion; bicubic resize of the shorter side to `size` (longer side truncated); centre
    crop; `uint8 * (1/255)` in float64 then float32; per-channel (x - mean) / std in float32.
    """
    image = image.convert("RGB")
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(size * long / short)
    new_w, new_h = (size, new_long) if width <= height else (new_long, size)
    if (new_w, new_h) != (width, height):
        image = image.resize((new_w, new_h), resample=Image.Resampling.BICUBIC)
    pixels = np.asarray(image)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    pixels = pixels[top : top + size, left : left + size]
    pixels = (pixels * (1 / 255)).astype(np.float32)
    mean, std = np.asarray(CLIP_MEAN, dtype=np.float32), np.asarray(CLIP_STD, dtype=np.float32)
    pixels = (pixels - mean) / std
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]


@torch.no_grad()
def encode_clip(image_encoder: CLIPVisionModelWithProjection, pixel_values: torch.Tensor) -> torch.Tensor:
    """The projected (not normalised) image embedding as a one-token context `(1, 1, D)`."""
    pixel_values = pixel_values.to(device=image_encoder.device, dtype=image_encoder.dtype)
    return image_encoder(pixel_values).image_embeds[:, None, :]
