"""Read `.safetensors` tensors straight into their own memory, without memory-mapping the file.

safetensors' own reader maps the whole file; every page it touches then counts in the process's
resident memory for as long as the file is open, next to the copy that the model keeps. On full-size
weights that made loading peak at 1.5x the weights kept in fp32 and 2x in bf16 (bench/speed.py).
Here each tensor is read with one `readinto` from the file's header offsets, so loading holds the
kept weights plus at most the tensor being read (and cast). The format: an 8-byte little-endian
header length, a JSON header {name: {dtype, shape, data_offsets}}, then the data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Iterator

import torch

from ..errors import WeightsError

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}
MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit


def damaged(path: Path, problem: str) -> WeightsError:
    """The error for a file that is not a complete safetensors file, with what to do about it."""
    return WeightsError(f"Cannot read {path}: {problem}. The file is damaged or incomplete; "
                        "delete it and download it again.")


def read_header(path: Path) -> tuple[dict[str, dict], int]:
    """The tensors' entries (metadata dropped) and where the data starts, checked against the file size."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            length = int.from_bytes(f.read(8), "little") if size >= 8 else -1
            if not 0 < length <= min(MAX_HEADER_BYTES, size - 8):
                raise damaged(path, "its header is cut off or is not a safetensors header")
            header = json.loads(f.read(length))
    except ValueError as exc:
        raise damaged(path, f"its header is not valid JSON ({exc})") from None
    except OSError as exc:
        raise damaged(path, str(exc)) from exc
    if not isinstance(header, dict):
        raise damaged(path, "its header is not a table of tensors")
    header.pop("__metadata__", None)
    start = 8 + length
    for name, entry in header.items():
        try:
            dtype, shape, (begin, end) = DTYPES[entry["dtype"]], entry["shape"], entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise damaged(path, f"its entry for {name} is malformed") from None
        if end - begin != math.prod(shape) * dtype.itemsize or begin < 0:
            raise damaged(path, f"the byte range of {name} does not fit its shape {shape}")
        if start + end > size:
            raise damaged(path, f"{name} ends after the end of the file (an interrupted download?)")
    return header, start


class SafetensorsFile(Mapping):
    """The tensors of a `.safetensors` file, each read from disk when it is accessed (nothing stays
    mapped or cached here), so several large files can be open together. Raises `WeightsError` for a
    damaged or cut-off file."""

    def __init__(self, path: Path):
        self._path = Path(path)
        self._header, self._start = read_header(self._path)

    def __getitem__(self, key: str) -> torch.Tensor:
        entry = self._header[key]
        tensor = torch.empty(entry["shape"], dtype=DTYPES[entry["dtype"]])
        begin, end = entry["data_offsets"]
        if end > begin:
            try:
                self._read_into(tensor.view(-1).view(torch.uint8).numpy(), self._start + begin, key)
            except OSError as exc:
                raise damaged(self._path, f"{key} could not be read ({exc})") from exc
        return tensor

    def _read_into(self, buffer, offset: int, key: str) -> None:
        with open(self._path, "rb", buffering=0) as f:
            f.seek(offset)
            done = 0
            while done < len(buffer):
                read = f.readinto(memoryview(buffer)[done:])
                if not read:
                    raise damaged(self._path, f"{key} is cut off (the file shrank while being read)")
                done += read

    def __iter__(self) -> Iterator[str]:
        return iter(self._header)

    def __len__(self) -> int:
        return len(self._header)
