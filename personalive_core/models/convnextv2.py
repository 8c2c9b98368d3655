"""ConvNeXtV2 backbone of the LivePortrait motion extractor (the "tiny" size: widths 96-768).

The layer names follow the original checkpoint (`downsample_layers`, `stages`, `norm`, and per block
`dwconv`, `norm`, `pwconv1`, `grn`, `pwconv2`). Drop-path is 0 at inference, so it is left out.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

WIDTHS = (96, 192, 384, 768)
DEPTHS = (3, 3, 9, 3)
_HALF = (torch.float16, torch.bfloat16)


class Fp32LayerNorm(nn.Module):
    """LayerNorm over channels, eps 1e-6, that normalises in (at least) float32.

    `channels_first` selects the (N,C,H,W) layout, otherwise the channels are the last axis. The weight
    and bias stay float32 when the module is cast to float16/bfloat16, and the result is cast back to
    the input dtype, as in the original motion extractor. (float64 stays float64, for reference runs.)
    """

    def __init__(self, dim: int, eps: float = 1e-6, channels_first: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim, dtype=torch.float32))
        self.bias = nn.Parameter(torch.zeros(dim, dtype=torch.float32))
        self.eps = eps
        self.channels_first = channels_first

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True):
        for name, param in self._parameters.items():
            if param is None:
                continue
            new = _apply_keeping_fp32(fn, param.detach())
            self._parameters[name] = nn.Parameter(new, requires_grad=param.requires_grad)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.to(torch.promote_types(dtype, torch.float32))
        if self.channels_first:
            x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, (self.weight.shape[0],), self.weight.to(x.dtype), self.bias.to(x.dtype), self.eps)
        if self.channels_first:
            x = x.permute(0, 3, 1, 2)
        return x.to(dtype)


def _apply_keeping_fp32(fn: Callable[[torch.Tensor], torch.Tensor], tensor: torch.Tensor) -> torch.Tensor:
    """`fn(tensor)`, except that a cast to a half dtype only moves the tensor (kept float32)."""
    try:
        target = fn(tensor[:1])
    except Exception:  # e.g. moving a meta tensor: let the full call raise the real error
        return fn(tensor)
    if target.dtype in _HALF and tensor.dtype == torch.float32:
        return tensor.to(device=target.device)
    return fn(tensor)


class GRN(nn.Module):
    """Global response normalisation on (N,H,W,C): scales each channel by its relative spatial L2 norm."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = torch.linalg.vector_norm(x, ord=2, dim=(1, 2), keepdim=True)
        relative = norm / (norm.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * relative) + self.beta + x


class Block(nn.Module):
    """Residual block: depthwise 7x7 conv, then LayerNorm, MLP with GELU and GRN in channels-last layout."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = Fp32LayerNorm(dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GRN(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dwconv(x).permute(0, 2, 3, 1)
        h = self.pwconv1(self.norm(h))
        h = self.grn(F.gelu(h))
        h = self.pwconv2(h).permute(0, 3, 1, 2)
        return x + h


class ConvNeXtV2(nn.Module):
    """ConvNeXtV2 feature extractor: image (B,3,H,W) -> pooled, normalised features (B, widths[-1])."""

    def __init__(self, in_channels: int = 3, widths=WIDTHS, depths=DEPTHS):
        super().__init__()
        stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], kernel_size=4, stride=4),
            Fp32LayerNorm(widths[0], channels_first=True),
        )
        downsamples = [
            nn.Sequential(Fp32LayerNorm(cin, channels_first=True), nn.Conv2d(cin, cout, kernel_size=2, stride=2))
            for cin, cout in zip(widths[:-1], widths[1:])
        ]
        self.downsample_layers = nn.ModuleList([stem, *downsamples])
        self.stages = nn.ModuleList(
            nn.Sequential(*(Block(width) for _ in range(depth))) for width, depth in zip(widths, depths)
        )
        self.norm = nn.LayerNorm(widths[-1], eps=1e-6)  # a plain LayerNorm: follows dtype casts

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for downsample, stage in zip(self.downsample_layers, self.stages):
            x = stage(downsample(x))
        return self.norm(x.mean([-2, -1]))
