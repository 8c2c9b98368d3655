"""Check a downloaded weights folder file by file without loading anything onto a device.

What each file must hold comes from the network descriptions of `models.catalog` (passed in): the
layout of the network built empty on the meta device, its harmless absent or extra keys, its renames
and its checks against the other networks.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..errors import WeightsError
from .official import OFFICIAL_FILES, OfficialFile
from .safe_load import load_state_dict_file

if TYPE_CHECKING:
    from ..models.catalog import NetworkSpec


@dataclass
class FileStatus:
    """What `inspect_weights` found for one official file."""

    spec: OfficialFile
    path: Path | None = None
    tensors: int = 0
    parameters: int = 0
    dtypes: Counter = field(default_factory=Counter)
    matched: int = 0
    missing: list[str] = field(default_factory=list)
    harmless_missing: list[str] = field(default_factory=list)  # computed by the loader when absent
    unexpected: list[str] = field(default_factory=list)
    harmless_unexpected: list[str] = field(default_factory=list)  # ignored by the loader
    wrong_shape: list[str] = field(default_factory=list)
    non_finite: list[str] = field(default_factory=list)  # tensors holding NaN or infinity
    conflict: str | None = None  # does not fit the files of another network
    error: str | None = None
    checked: bool = False  # keys compared with the model's layout

    @property
    def loadable(self) -> bool:
        return (self.path is not None and self.error is None and not self.missing and not self.wrong_shape
                and not self.non_finite and self.conflict is None)

    def line(self) -> str:
        name = self.spec.relpath
        if self.path is None:
            return f"MISSING  {name}\n         download: {self.spec.url}"
        if self.error:
            return f"ERROR    {name}: {self.error}"
        if self.tensors == 0:
            return f"found    {name}"
        if not self.checked:
            return f"read     {name}: {self.tensors} tensors, {self.parameters:,} values (keys not checked)"
        dtypes = ",".join(f"{d.replace('torch.', '')}" for d, _ in self.dtypes.most_common())
        status = "ok      " if self.loadable and not self.unexpected else ("ok*     " if self.loadable else "MISMATCH")
        status = "DAMAGED " if self.non_finite else status
        text = (
            f"{status} {name}: {self.tensors} tensors, {self.parameters:,} values, {dtypes}; "
            f"keys matched {self.matched}, missing {len(self.missing)}, unexpected {len(self.unexpected)}, "
            f"wrong shape {len(self.wrong_shape)}"
        )
        if self.harmless_missing:
            text += f"; {len(self.harmless_missing)} absent but computed by the loader ({self.harmless_missing[0]}, ...)"
        if self.harmless_unexpected:
            text += f"; {len(self.harmless_unexpected)} extra but ignored by the loader ({self.harmless_unexpected[0]}, ...)"
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected), ("wrong shape", self.wrong_shape),
                            ("NaN or infinite values (a damaged file: download it again)", self.non_finite)):
            if keys:
                text += f"\n         {label}: " + ", ".join(keys[:4]) + (" ..." if len(keys) > 4 else "")
        if self.conflict:
            text += f"\n         {self.conflict}"
        return text


def inspect_weights(root: str | Path, networks: Iterable[NetworkSpec]) -> list[FileStatus]:
    """Status of every official file under `root`, checked against the `networks` that read them."""
    root = Path(root).expanduser()
    results = {spec.key: FileStatus(spec, spec.find(root)) for spec in OFFICIAL_FILES}
    stand_ins = {}  # file key -> {tensor key: meta tensor of the file's shape and dtype}
    for status in results.values():
        if status.path is not None and status.path.suffix != ".json":
            stand_ins[status.spec.key] = _read(status)
    for network in networks:
        _check_network(network, results, stand_ins)
    return list(results.values())


def _read(status: FileStatus) -> dict[str, torch.Tensor] | None:
    """Count the file's tensors; their shapes and dtypes as meta tensors (nothing kept in memory)."""
    try:
        state = load_state_dict_file(status.path)
        stand_ins = {}
        for key, tensor in state.items():  # each tensor read once
            status.tensors += 1
            status.parameters += tensor.numel()
            status.dtypes[str(tensor.dtype)] += 1
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                status.non_finite.append(key)
            stand_ins[key] = torch.empty(tensor.shape, dtype=tensor.dtype, device="meta")
        return stand_ins
    except WeightsError as exc:
        status.error = str(exc).splitlines()[0]
        return None


def _check_network(network: NetworkSpec, results: dict[str, FileStatus],
                   stand_ins: dict[str, dict | None]) -> None:
    files = [results[key] for key in network.files if stand_ins.get(key) is not None]
    if not files:
        return
    try:
        config = _read_config(results[network.config]) if network.config else None
        layout = network.layout(config)
    except Exception as exc:  # a missing or broken config.json, for example
        for status in files:
            status.error = f"cannot build the expected layout: {exc}"
        return
    states = {s.spec.key: network.rename(stand_ins[s.spec.key]) if network.rename else stand_ins[s.spec.key]
              for s in files}
    for status in files:
        _compare(status, states[status.spec.key], layout)
        status.unexpected, status.harmless_unexpected = _split(status.unexpected, network.harmless_unexpected)
        status.checked = True
    if len(files) == len(network.files):  # the keys missing from every file, on the file that holds most
        missing = [k for k in layout if not any(k in state for state in states.values())]
        owner = max(files, key=lambda s: s.matched)
        owner.missing, owner.harmless_missing = _split(missing, network.harmless_missing)
        if network.check is not None:
            paths = {key: s.path for key, s in results.items() if s.path is not None}
            files[0].conflict = network.check(config, states, paths)


def _read_config(status: FileStatus) -> dict:
    if status.path is None:
        raise FileNotFoundError(f"{status.spec.relpath} is missing")
    return json.loads(status.path.read_text())


def _split(keys: list[str], harmless) -> tuple[list[str], list[str]]:
    return [k for k in keys if not harmless(k)], [k for k in keys if harmless(k)]


def _compare(status: FileStatus, state: Mapping[str, torch.Tensor], layout: dict[str, tuple[int, ...]]) -> None:
    for key, tensor in state.items():
        shape = layout.get(key)
        if shape is None:
            status.unexpected.append(key)
        elif tuple(tensor.shape) != tuple(shape):
            status.wrong_shape.append(f"{key} {tuple(tensor.shape)} != {tuple(shape)}")
        else:
            status.matched += 1
