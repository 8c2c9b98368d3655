"""The CLIP image encoder: one global appearance token of the reference image.

transformers `CLIPVisionModelWithProjection` from the official `image_encoder/` folder. The
preprocessing reproduces the default `CLIPImageProcessor` of transformers 4.36 (the version the
original pins) with PIL and numpy, so that it does not depend on the installed processor version.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from ..weights import LoadReport, load_into, load_state_dict_file, locate
from ._loading import OnDevice, assert_materialised, cast_empty, check_dtype, read_config

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


def load_image_encoder(
    root: str | Path, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> tuple[CLIPVisionModelWithProjection, LoadReport]:
    """Build the CLIP vision tower from `root/sd-image-variations-diffusers/image_encoder/`."""
    check_dtype(dtype)
    paths = locate(root, ["image_encoder_config", "image_encoder"])
    config = CLIPVisionConfig.from_dict(read_config(paths["image_encoder_config"]))
    with torch.device("meta"):
        # Eager attention, as in transformers 4.36 which the original pins (SDPA rounds differently).
        model = CLIPVisionModelWithProjection._from_config(config, attn_implementation="eager")
    cast_empty(model, dtype)
    state = load_state_dict_file(paths["image_encoder"])
    report = load_into(
        model,
        [("image_encoder", OnDevice(state, device, dtype))],
        model="CLIP image encoder",
        # Older checkpoints store the constant position-index buffer; newer transformers rebuild it.
        tolerate_unexpected=["vision_model.embeddings.position_ids"],
    )
    _rebuild_position_ids(model, device)
    assert_materialised(model, "CLIP image encoder")
    return model.eval().requires_grad_(False), report


def _rebuild_position_ids(model: CLIPVisionModelWithProjection, device: torch.device | str) -> None:
    """Recreate the non-persistent `position_ids` buffer (0..N-1) that a meta build leaves empty."""
    embeddings = model.vision_model.embeddings
    ids = torch.arange(embeddings.num_positions, device=device)[None]
    embeddings.register_buffer("position_ids", ids, persistent=False)
