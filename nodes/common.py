"""Shared pieces of the PersonaLive nodes: the category, shared widgets, error naming and progress glue.

Everything that computes or checks lives in `personalive_core`; this package only adapts it to ComfyUI.
"""

from __future__ import annotations

import functools
import logging
from contextlib import contextmanager

import comfy.model_management as mm
import torch
from comfy_api.v0_0_2 import io

from personalive_core.checks import size_problem
from personalive_core.errors import InputError, PersonaLiveError
from personalive_core.frames import image_to_pil

from .socket_types import Models

log = logging.getLogger("PersonaLive")

CATEGORY = "PersonaLive"


def models_input(note: str = ""):
    """The `models` socket every computing node takes."""
    return Models.Input("models", tooltip=f"From LoadPersonaLiveModels{f' ({note})' if note else ''}.")


def size_input():
    """The working-size widget (same range and wording on every node that has one)."""
    return io.Int.Input(
        "size",
        default=512,
        min=64,
        max=2048,
        step=64,
        tooltip="Working resolution in pixels (square), a multiple of 64: the reference is resized to it, "
        "driving frames are centre-cropped to a square and resized to it. Use the same value in "
        "ExtractLivePortraitKeypoints and EncodeReference. PersonaLive was trained at 512; other sizes work "
        "but look worse.",
    )


class SizeWidget:
    """Mixin of the nodes with a `size` widget: a bad size is rejected when the prompt is queued."""

    @classmethod
    def validate_inputs(cls, size=None):
        if size is None:  # the widget was converted to an input: the core checks it at run time
            return True
        return size_problem(size, "size") or True


@contextmanager
def named_errors(node_id: str):
    """Re-raise the core's errors as the same type with "<node_id>: " in front (ComfyUI shows the message)."""
    try:
        yield
    except PersonaLiveError as exc:
        if str(exc).startswith(f"{node_id}: "):
            raise
        try:
            named = type(exc)(f"{node_id}: {exc}")
        except TypeError:  # an error type whose constructor wants more than a message
            named = PersonaLiveError(f"{node_id}: {exc}")
        raise named from exc


def node_errors(execute):
    """Decorate a node's `execute` (under @classmethod): core errors leave it named after the node. The ID is
    read from where the method is defined (`Class.execute`): ComfyUI runs a renamed clone of the class."""
    node_id = execute.__qualname__.split(".")[0]

    @functools.wraps(execute)
    def run(cls, *args, **kwargs):
        with named_errors(node_id):
            return execute(cls, *args, **kwargs)

    return run


def check_interrupt() -> None:
    """Raise ComfyUI's interrupt exception when the user pressed Cancel / POST /interrupt arrived."""
    mm.throw_exception_if_processing_interrupted()


def first_picture(image: torch.Tensor, what: str):
    """The first image of an IMAGE batch as a PIL picture (a clear error for anything else)."""
    if image.ndim != 4 or image.shape[0] < 1:
        raise InputError(f"{what} must be an IMAGE batch; got a tensor of shape {tuple(image.shape)}.")
    return image_to_pil(image[0])


def to_intermediate(t: torch.Tensor) -> torch.Tensor:
    return t.to(device=mm.intermediate_device(), dtype=torch.float32)
