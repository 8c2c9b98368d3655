"""Turning a device name from the user (`auto`, `cpu`, `cuda`, `cuda:1`, `mps`) into a usable torch device."""

from __future__ import annotations

import torch

from .errors import InputError

DEVICE_HELP = "cpu, cuda, cuda:N, mps or auto"


def resolve_device(name: str = "auto") -> torch.device:
    """The device `name` stands for, checked to exist here; `auto` picks CUDA, then MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise InputError(f"Unknown device {name!r}; use {DEVICE_HELP}.") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"Device {name!r} asked for, but this PyTorch cannot use CUDA (a CPU-only build or no "
                             "NVIDIA driver). Use --device cpu, or install a CUDA build of torch.")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise InputError(f"Device {name!r} asked for, but there are {count} CUDA device(s): use cuda:0..cuda:{count - 1}.")
    elif device.type == "mps":
        if not _mps_available():
            raise InputError(f"Device {name!r} asked for, but Apple's MPS is not available here; use --device cpu.")
    elif device.type != "cpu":
        raise InputError(f"Device {name!r} is not supported; use {DEVICE_HELP}.")
    return device


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
