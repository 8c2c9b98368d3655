"""Read checkpoint files without executing code from them.

`.safetensors` files are read tensor by tensor by `safetensors_reader` (not memory-mapped, so loading
holds no second copy); `.pth`/`.bin`/`.pt` files with `torch.load(weights_only=True)`, which refuses
any pickle that would import or call arbitrary objects.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Iterator

import torch

from ..errors import WeightsError
from .safetensors_reader import SafetensorsFile

PICKLE_SUFFIXES = (".pth", ".bin", ".pt", ".ckpt")


class ShardedSafetensors(Mapping):
    """The tensors of a sharded safetensors checkpoint, through its `*.safetensors.index.json`."""

    def __init__(self, index: Path):
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WeightsError(f"Cannot read the shard index {index}: {exc}. Download it again.") from None
        self._where = {key: index.parent / name for key, name in weight_map.items()}
        missing = sorted({p.name for p in self._where.values() if not p.is_file()})
        if missing:
            raise WeightsError(f"{index} names shards that are missing next to it: {', '.join(missing)}. "
                               "Download every shard into the same folder.")
        self._shards: dict[Path, SafetensorsFile] = {}

    def __getitem__(self, key: str) -> torch.Tensor:
        path = self._where[key]
        if path not in self._shards:
            self._shards[path] = load_state_dict_file(path)
        return self._shards[path][key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


def load_state_dict_file(path: str | Path) -> Mapping[str, torch.Tensor]:
    """The tensors stored in `path` (on the CPU, read lazily where the format allows), refusing
    unsafe content. A `*.safetensors.index.json` stands for its shards."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"Weights file not found: {path}")
    if path.name.endswith(".safetensors.index.json"):
        return ShardedSafetensors(path)
    if path.suffix == ".safetensors":
        return SafetensorsFile(path)
    if path.suffix not in PICKLE_SUFFIXES:
        raise WeightsError(f"Unsupported weights format {path.suffix!r} for {path}; expected .safetensors or .pth/.bin.")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=_is_zip(path))
    except pickle.UnpicklingError as exc:
        raise WeightsError(
            f"Refused to load {path}: it holds Python objects other than tensors ({_unsafe_content(exc)}), and "
            "loading it could run code from the file. Download the official file again, or get a .safetensors "
            "version of it from a source you trust."
        ) from None
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


def _unsafe_content(exc: BaseException) -> str:
    """What torch's safe unpickler refused, without its advice to load the file unsafely."""
    for line in str(exc).splitlines():
        line = line.strip()
        if "unsupported" in line.lower() or "WeightsUnpickler error" in line:
            detail = line.split("WeightsUnpickler error:", 1)[-1].strip()
            return detail.split(". ")[0].rstrip(".")
    return "objects torch's safe loader does not accept"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
