"""Load state dicts into modules and report every missing and unexpected key.

The original code loads several files with `strict=False`, which silently keeps random values for
keys that no file provides. Here every mismatch is either listed as known and harmless by the caller
(by glob pattern; `models.catalog` gives the reason next to each) or raised as a `WeightsError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import torch
from torch import nn

from ..errors import WeightsError


@dataclass
class LoadReport:
    """What happened when one model was filled from one or more files."""

    model: str
    loaded: int = 0
    missing: list[str] = field(default_factory=list)  # model keys no file provided
    unexpected: list[str] = field(default_factory=list)  # file keys the model does not have
    shape_mismatch: list[str] = field(default_factory=list)
    non_finite: list[str] = field(default_factory=list)  # tensors holding NaN or infinity
    tolerated_missing: list[str] = field(default_factory=list)
    tolerated_unexpected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.shape_mismatch or self.non_finite)

    def summary(self) -> str:
        parts = [f"{self.model}: {self.loaded} tensors loaded"]
        for name, keys in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("wrong shape", self.shape_mismatch),
            ("with NaN or infinite values", self.non_finite),
            ("missing (known harmless)", self.tolerated_missing),
            ("unexpected (known harmless)", self.tolerated_unexpected),
        ):
            if keys:
                parts.append(f"{len(keys)} {name} (e.g. {', '.join(keys[:3])})")
        return "; ".join(parts)

    def raise_if_bad(self, hint: str = "") -> None:
        if self.ok:
            return
        lines = [f"The weights do not fit the {self.model} model."]
        for name, keys in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("with a wrong shape", self.shape_mismatch),
            ("with NaN or infinite values (the file is damaged: download it again)", self.non_finite),
        ):
            if keys:
                shown = "\n    ".join(keys[:8])
                more = f"\n    ... and {len(keys) - 8} more" if len(keys) > 8 else ""
                lines.append(f"  {len(keys)} key(s) {name}:\n    {shown}{more}")
        lines.append(hint or "Check that the file is the official one for this model and was downloaded completely.")
        raise WeightsError("\n".join(lines))


def _matches(key: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(key, p) for p in patterns)


def load_into(
    module: nn.Module,
    sources: Sequence[tuple[str, Mapping[str, torch.Tensor]]],
    *,
    model: str,
    tolerate_missing: Sequence[str] = (),
    tolerate_unexpected: Sequence[str] = (),
    strict: bool = True,
    device: torch.device | str | None = None,
) -> LoadReport:
    """Copy `sources` (label, state dict), in order, into `module` and check the result.

    Later sources override earlier ones. Tensors are converted to the dtype of the module's own
    parameter or buffer. Into a module built on the meta device, each tensor is read once and
    converted straight onto `device` (default: where the file's tensor is), so no second copy of
    the weights is ever allocated; real targets are copied into in place. Keys matching `tolerate_*`
    glob patterns are reported separately instead of failing. With `strict`, any other mismatch raises.
    """
    own = module.state_dict(keep_vars=True)
    report = LoadReport(model=model)
    filled: set[str] = set()
    for label, state in sources:
        for key, value in state.items():
            target = own.get(key)
            if target is None:
                bucket = report.tolerated_unexpected if _matches(key, tolerate_unexpected) else report.unexpected
                bucket.append(f"{key} (in {label})")
                continue
            if tuple(target.shape) != tuple(value.shape):
                report.shape_mismatch.append(f"{key}: file {tuple(value.shape)} vs model {tuple(target.shape)} (in {label})")
                continue
            if value.is_floating_point() and not torch.isfinite(value).all():
                report.non_finite.append(f"{key} (in {label})")
            _assign(module, key, target, value, device)
            filled.add(key)
    report.loaded = len(filled)
    for key in own:
        if key not in filled:
            bucket = report.tolerated_missing if _matches(key, tolerate_missing) else report.missing
            bucket.append(key)
    if strict:
        report.raise_if_bad()
    return report


def _assign(module: nn.Module, key: str, target: torch.Tensor, value: torch.Tensor, device) -> None:
    """Put `value` into the parameter/buffer `key`, in the target's dtype (on `device` if it is new)."""
    dtype = target.dtype if value.is_floating_point() else value.dtype
    if target.is_meta:
        owner_name, _, leaf = key.rpartition(".")
        owner = module.get_submodule(owner_name) if owner_name else module
        new = value.to(device=value.device if device is None else device, dtype=dtype, copy=True).contiguous()
        if leaf in owner._parameters:
            owner._parameters[leaf] = nn.Parameter(new, requires_grad=False)
        else:
            owner._buffers[leaf] = new
    else:
        with torch.no_grad():
            target.copy_(value.to(dtype=target.dtype))


class StateView(Mapping):
    """A state dict seen under other key names, or only some of its keys; nothing is read until used.

    `names` maps each key of the view to the key of `state`. `adapt_renamed`, if given, is applied to
    the values whose key differs from their name in `state`.
    """

    def __init__(self, state: Mapping[str, torch.Tensor], names: Mapping[str, str],
                 adapt_renamed: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self._state, self._names, self._adapt = state, dict(names), adapt_renamed

    def __getitem__(self, key: str) -> torch.Tensor:
        source = self._names[key]
        value = self._state[source]
        return self._adapt(value) if self._adapt is not None and source != key else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
