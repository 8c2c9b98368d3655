"""Shared pieces of the PersonaLive nodes: type names, the category, input checks, progress glue.

Everything that computes lives in `personalive_core`; this package only adapts it to ComfyUI.
"""

from __future__ import annotations

import logging

import comfy.model_management as mm
import torch

from personalive_core.errors import InputError

log = logging.getLogger("PersonaLive")

CATEGORY = "PersonaLive"

# Custom socket types (V1 API: plain upper-snake strings shared by RETURN_TYPES and INPUT_TYPES).
MODELS = "PERSONALIVE_MODELS"
KEYPOINTS = "PERSONALIVE_KEYPOINTS"
REFERENCE = "PERSONALIVE_REFERENCE"
MOTION = "PERSONALIVE_MOTION"


def lead_in_frames() -> int:
    """Number of lead-in frames the core prepends to the pose maps."""
    from personalive_core import api

    return int(api.LEAD_IN_FRAMES)


def single_image(image: torch.Tensor, what: str, node: str) -> torch.Tensor:
    """An IMAGE batch holding exactly one image, as (1, H, W, 3)."""
    image = rgb(image, what, node)
    if image.shape[0] != 1:
        raise InputError(
            f"{node}: {what} must be one image, but a batch of {image.shape[0]} arrived. "
            "Pick one with an 'ImageFromBatch' node (batch_index = the frame you want, length = 1)."
        )
    return image


def frames(images: torch.Tensor, what: str, node: str) -> torch.Tensor:
    """A non-empty IMAGE batch as (N, H, W, 3)."""
    images = rgb(images, what, node)
    if images.shape[0] == 0:
        raise InputError(
            f"{node}: {what} is an empty batch (0 frames). Check the node that produced it, e.g. that "
            "the video loaded and that frame selection (skip/cap) leaves at least one frame."
        )
    return images


def rgb(images: torch.Tensor, what: str, node: str) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise InputError(f"{node}: {what} must be an IMAGE batch (frames, height, width, channels); got {shape}")
    if images.shape[-1] == 4:  # RGBA from some loaders: drop alpha
        images = images[..., :3]
    if images.shape[-1] != 3:
        raise InputError(f"{node}: {what} must have 3 color channels; got {images.shape[-1]}")
    return images.float()


def same_count(n_a: int, what_a: str, n_b: int, what_b: str, node: str) -> None:
    if n_a != n_b:
        raise InputError(
            f"{node}: {what_a} has {n_a} frame(s) but {what_b} has {n_b}. They must come from the same "
            f"driving frames: connect the same IMAGE batch to both, or trim one with 'ImageFromBatch'."
        )


def size_problem(value, name: str, low: int = 64, high: int = 2048, multiple: int = 64) -> str | None:
    """Why a working-size widget is unusable, or None when it is fine. PersonaLive's UNets halve the
    1/8-scale latent three times, so the working size must be a multiple of 64."""
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{name} must be a whole number of pixels; got {value!r}"
    if value < low or value > high:
        return f"{name} must be between {low} and {high} pixels; got {value}"
    if value % multiple:
        lower = max(low, value - value % multiple)
        upper = value - value % multiple + multiple
        return f"{name} must be a multiple of {multiple} (512 as trained); got {value}: use {lower} or {upper}"
    return None


def check_interrupt() -> None:
    """Raise ComfyUI's interrupt exception when the user pressed Cancel / POST /interrupt arrived."""
    mm.throw_exception_if_processing_interrupted()


def to_intermediate(t: torch.Tensor) -> torch.Tensor:
    return t.to(device=mm.intermediate_device(), dtype=torch.float32)
