"""Stage-by-stage comparison of tensors against recorded reference values."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class StageResult:
    """Outcome of comparing one recorded tensor."""

    stage: str
    max_abs: float
    rel: float  # max abs error / max abs reference value (NaN-free)
    tolerance: float
    kind: str  # "rel", "abs" or "exact"

    @property
    def ok(self) -> bool:
        value = self.max_abs if self.kind in ("abs", "exact") else self.rel
        return value <= self.tolerance

    def line(self) -> str:
        flag = "ok" if self.ok else "FAIL"
        return f"{self.stage:<58} {self.max_abs:>11.3e} {self.rel:>11.3e} {self.kind:>5} {self.tolerance:>9.1e}  {flag}"


def _errors(actual: torch.Tensor, expected: torch.Tensor) -> tuple[float, float]:
    if tuple(actual.shape) != tuple(expected.shape):
        raise AssertionError(f"shape {tuple(actual.shape)} != recorded {tuple(expected.shape)}")
    a = actual.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    if not torch.isfinite(a).all():
        return float("inf"), float("inf")
    max_abs = (a - e).abs().max().item() if a.numel() else 0.0
    scale = e.abs().max().item() if e.numel() else 0.0
    rel = max_abs / scale if scale > 0 else max_abs
    return max_abs, rel


def compare_tensors(stage: str, actual: torch.Tensor, expected: torch.Tensor, tol: float, kind: str = "rel") -> StageResult:
    """Relative (`kind="rel"`) or absolute (`kind="abs"`) max-error comparison."""
    max_abs, rel = _errors(actual, expected)
    return StageResult(stage, max_abs, rel, tol, kind)


def compare_exact(stage: str, actual: torch.Tensor, expected: torch.Tensor) -> StageResult:
    """Exact equality, for integer results such as boxes and pixel positions."""
    max_abs, rel = _errors(actual, expected)
    return StageResult(stage, max_abs, rel, 0.0, "exact")


def format_table(results: list[StageResult]) -> str:
    head = f"{'stage':<58} {'max abs':>11} {'relative':>11} {'kind':>5} {'tol':>9}  ok"
    return "\n".join([head, "-" * len(head)] + [r.line() for r in results])
