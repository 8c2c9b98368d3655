"""Read checkpoint files without executing code from them.

`.safetensors` files are read with safetensors; `.pth`/`.bin`/`.pt` files with
`torch.load(weights_only=True)`, which refuses any pickle that would import or call
arbitrary objects.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from safetensors.torch import load_file as _load_safetensors

from ..errors import WeightsError

PICKLE_SUFFIXES = (".pth", ".bin", ".pt", ".ckpt")


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Return the tensors stored in `path` (on the CPU), refusing unsafe content."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"Weights file not found: {path}")
    if path.suffix == ".safetensors":
        try:
            return _load_safetensors(str(path), device="cpu")
        except Exception as exc:  # safetensors raises several unrelated types
            raise WeightsError(
                f"Cannot read {path}: {exc}. The file is damaged or incomplete; delete it and download it again."
            ) from exc
    if path.suffix not in PICKLE_SUFFIXES:
        raise WeightsError(f"Unsupported weights format {path.suffix!r} for {path}; expected .safetensors or .pth/.bin.")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=_is_zip(path))
    except pickle.UnpicklingError as exc:
        raise WeightsError(
            f"Refused to load {path}: it contains Python objects other than tensors ({_first_line(exc)}). "
            "Loading it could run code from the file. Use the official file, or convert it to .safetensors "
            "from a source you trust."
        ) from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise WeightsError(
            f"Cannot read {path}: {_first_line(exc)}. The file is damaged or incomplete (an interrupted "
            "download?); delete it and download it again."
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a state dict of tensors; is it the right file?")
    return state


def _is_zip(path: Path) -> bool:
    return zipfile.is_zipfile(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
