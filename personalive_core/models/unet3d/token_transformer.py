"""The wrapper shared by motion and temporal modules (the original's `TemporalTransformer3DModel`):
GroupNorm → per-pixel tokens → Linear → transformer block → Linear → residual, per frame."""

from __future__ import annotations

import torch
from torch import nn

# The original hard-codes these for motion and temporal modules, whatever the UNet config says.
MODULE_NORM_GROUPS = 32
MODULE_NORM_EPS = 1e-6


class PixelTokenTransformer(nn.Module):
    """Runs `block(tokens, *args)` on the `(N, H*W, C)` pixel tokens of `(N, C, H, W)` features."""

    def __init__(self, channels: int, block: nn.Module):
        super().__init__()
        self.norm = nn.GroupNorm(MODULE_NORM_GROUPS, channels, eps=MODULE_NORM_EPS, affine=True)
        self.proj_in = nn.Linear(channels, channels)
        self.transformer_blocks = nn.ModuleList([block])
        self.proj_out = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor, *block_args) -> torch.Tensor:
        n, c, h, w = x.shape
        residual = x
        tokens = self.norm(x).permute(0, 2, 3, 1).reshape(n, h * w, c)
        tokens = self.proj_in(tokens)
        for block in self.transformer_blocks:
            tokens = block(tokens, *block_args)
        tokens = self.proj_out(tokens)
        return tokens.reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous() + residual
