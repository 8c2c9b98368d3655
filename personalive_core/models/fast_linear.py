"""Linear layers on faster kernels with the same weights (the default `kernels="fast"` of `load_models`).

Two costs of the original's linear layers, measured on this machine (`bench/linear_kernels.py`, layers
without gradients as the loader leaves them):
- fp32 `nn.Linear` on the CPU runs MKL's sgemm, which on this AMD CPU reaches 140-180 GFLOP/s where
  oneDNN's kernels reach 210-430 for the same products (1.5-2.5x);
- a linear layer fed a permuted view (the temporal and motion modules' token layouts, with a batch of one
  window) becomes a batched matmul against a copy of the weight per batch row: in bf16 that ran at
  8-33 GFLOP/s instead of 700-820 for the same product on a contiguous input.

`FastLinear` feeds its kernel a contiguous input and, on the CPU in fp32 (and bf16 where the CPU has bf16
kernels), calls oneDNN's linear.
Only the order of summation changes (fp32 frames stay within the golden fixtures' tolerances; see
tests/test_fast_kernels.py). `kernels="reference"` keeps PyTorch's `nn.Linear`: the original's own
kernels, bit for bit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KERNELS = ("fast", "reference")


def onednn_linear_available() -> bool:
    """Does this PyTorch build have oneDNN's linear operator?"""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def onednn_dtypes() -> tuple[torch.dtype, ...]:
    """The dtypes oneDNN's linear computes fast on this CPU: fp32, and bf16 where the CPU has bf16 kernels."""
    if not onednn_linear_available():
        return ()
    bf16 = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return (torch.float32, torch.bfloat16) if bf16 is not None and bf16() else (torch.float32,)


ONEDNN_DTYPES = onednn_dtypes()


class FastLinear(nn.Linear):
    """`nn.Linear` whose input is made contiguous, and computed by oneDNN on the CPU (in `ONEDNN_DTYPES`, no autograd).

    Under torch.compile it stays `F.linear`: inductor lowers oneDNN's linear only for frozen weights.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        if (x.device.type == "cpu" and x.dtype in ONEDNN_DTYPES and x.dtype == self.weight.dtype
                and not torch.compiler.is_compiling()
                and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))):
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")
        return F.linear(x, self.weight, self.bias)


def use_kernels(model: nn.Module, kernels: str) -> nn.Module:
    """Put `model`'s plain `nn.Linear` layers on `kernels` ('fast' or 'reference'), in place.

    The layers keep their parameters (and so the state dict); only the class that computes them changes.
    """
    if kernels not in KERNELS:
        raise ValueError(f"unknown kernels {kernels!r}; use one of {list(KERNELS)}")
    source, target = (nn.Linear, FastLinear) if kernels == "fast" else (FastLinear, nn.Linear)
    for module in model.modules():
        if type(module) is source:
            module.__class__ = target
    return model
