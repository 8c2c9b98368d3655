"""Check a downloaded weights folder file by file without loading anything onto a device."""

from __future__ import annotations

from collections import Counter
from fnmatch import fnmatchcase
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import WeightsError
from .official import OFFICIAL_FILES, OfficialFile
from .safe_load import load_state_dict_file

# file key -> function(root) -> {state-dict key: shape} the model expects from that file.
ExpectedLayout = Callable[[Path], dict[str, tuple[int, ...]]]

# Files that together fill one model: a key must be in at least one of them. The first file of a
# group carries the keys missing from all of them.
UNION_GROUPS = (("denoising_unet", "temporal_module"),)


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
    wrong_shape: list[str] = field(default_factory=list)
    error: str | None = None
    checked: bool = False  # keys compared with the model's layout

    @property
    def loadable(self) -> bool:
        return self.path is not None and self.error is None and not self.missing and not self.wrong_shape

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
        text = (
            f"{status} {name}: {self.tensors} tensors, {self.parameters:,} values, {dtypes}; "
            f"keys matched {self.matched}, missing {len(self.missing)}, unexpected {len(self.unexpected)}, "
            f"wrong shape {len(self.wrong_shape)}"
        )
        if self.harmless_missing:
            text += f"; {len(self.harmless_missing)} absent but computed by the loader ({self.harmless_missing[0]}, ...)"
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected), ("wrong shape", self.wrong_shape)):
            if keys:
                text += f"\n         {label}: " + ", ".join(keys[:4]) + (" ..." if len(keys) > 4 else "")
        return text


def inspect_weights(root: str | Path, expected: dict[str, ExpectedLayout],
                    harmless_missing: dict[str, list[str]] | None = None) -> list[FileStatus]:
    """Status of every official file under `root`; `expected` maps file keys to their layouts and
    `harmless_missing` to glob patterns of keys the loaders can do without."""
    root = Path(root).expanduser()
    results = []
    for spec in OFFICIAL_FILES:
        status = FileStatus(spec, spec.find(root))
        results.append(status)
        if status.path is None or status.path.suffix == ".json":
            continue
        try:
            state = load_state_dict_file(status.path)
        except WeightsError as exc:
            status.error = str(exc).splitlines()[0]
            continue
        status.tensors = len(state)
        status.parameters = sum(t.numel() for t in state.values())
        status.dtypes = Counter(str(t.dtype) for t in state.values())
        layout_fn = expected.get(spec.key)
        if layout_fn is None:
            continue
        try:
            layout = layout_fn(root)
        except Exception as exc:  # a broken config.json, for example
            status.error = f"cannot build the expected layout: {exc}"
            continue
        _compare(status, state, layout)
        status.checked = True
    _merge_union_groups(results)
    for status in results:
        patterns = (harmless_missing or {}).get(status.spec.key, [])
        status.harmless_missing = [k for k in status.missing if any(fnmatchcase(k, p) for p in patterns)]
        status.missing = [k for k in status.missing if k not in status.harmless_missing]
    return results


def _merge_union_groups(results: list[FileStatus]) -> None:
    by_key = {r.spec.key: r for r in results}
    for group in UNION_GROUPS:
        members = [by_key[k] for k in group if by_key[k].tensors]
        if len(members) != len(group):
            continue
        still_missing = set.intersection(*(set(m.missing) for m in members))
        for member in members:
            member.missing = []
        members[0].missing = sorted(still_missing)


def _compare(status: FileStatus, state: dict, layout: dict[str, tuple[int, ...]]) -> None:
    for key, tensor in state.items():
        shape = layout.get(key)
        if shape is None:
            status.unexpected.append(key)
        elif tuple(tensor.shape) != tuple(shape):
            status.wrong_shape.append(f"{key} {tuple(tensor.shape)} != {tuple(shape)}")
        else:
            status.matched += 1
    status.missing = [k for k in layout if k not in state]
