"""Small helpers shared by the model loaders: configs, meta-device builds, lazy device transfer."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch

from ..errors import WeightsError

SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def read_config(path: str | Path) -> dict:
    """A model's `config.json` as a dict."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"Cannot read the model config {path}: {exc}") from exc


def check_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"unsupported dtype {dtype}; use one of {SUPPORTED_DTYPES}")
    return dtype


def cast_empty(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """Set the dtype of a meta-device (empty) model, so that `load_into` converts into it.

    Calls `nn.Module.to` directly: diffusers' `ModelMixin.to` warns on every dtype cast, which
    would be noise here (no value exists yet; nothing is kept in float32 by these models).
    """
    return torch.nn.Module.to(module, dtype)


def assert_materialised(module: torch.nn.Module, model: str) -> None:
    """Raise if any parameter or buffer is still on the meta device (was never filled)."""
    left = [name for name, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if left:
        raise WeightsError(f"{model}: {len(left)} tensor(s) were never filled, e.g. {', '.join(left[:3])}")


class OnDevice(Mapping):
    """Read-only view of a state dict that moves each tensor to `device`/`dtype` when it is read.

    Used with `weights.load_into` so that a model built on the meta device is filled directly on
    its target device, one tensor at a time, without first holding a CPU copy of the whole model.
    Integer tensors keep their dtype.
    """

    def __init__(self, state: Mapping[str, torch.Tensor], device: torch.device | str, dtype: torch.dtype):
        self._state, self._device, self._dtype = state, torch.device(device), dtype

    def __getitem__(self, key: str) -> torch.Tensor:
        value = self._state[key]
        dtype = self._dtype if value.is_floating_point() else value.dtype
        return value.to(device=self._device, dtype=dtype)

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)
