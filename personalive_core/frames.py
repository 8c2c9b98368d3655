"""Driving frames and IMAGE tensors as the pipeline takes them: square, working size, [-1, 1].

Driving frames are centre-cropped to a square and resized (bicubic) to the working size, then turned
into floats as the original's demo does (uint8 / 255 * 2 - 1). They can be kept as uint8 in between
(a quarter of the memory) and turned into floats later with bit-identical values.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def square_pixels(image: Image.Image, size: int) -> torch.Tensor:
    """Centre square of `image` resized to size x size: (3,S,S) uint8 RGB."""
    image = image.convert("RGB")
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)


def signed_unit(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [-1, 1] (uint8 / 255 * 2 - 1, as the original)."""
    return pixels.float() / 255.0 * 2.0 - 1.0


def square_frame(image: Image.Image, size: int) -> torch.Tensor:
    """A driving frame (3,S,S) float32 in [-1,1] from any PIL image."""
    return signed_unit(square_pixels(image, size))


def image_to_pil(image: torch.Tensor) -> Image.Image:
    """One IMAGE (H,W,C) float in [0,1] (ComfyUI's layout) -> PIL RGB, rounding to uint8."""
    array = (image[..., :3].detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(np.ascontiguousarray(array))
