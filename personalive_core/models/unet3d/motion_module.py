"""Motion module: every frame's pixel tokens cross-attend to that frame's motion tokens
(the original's `Vanilla` module with two `Spatial_Cross` attention blocks)."""

from __future__ import annotations

import torch
from diffusers.models.attention import FeedForward
from diffusers.models.attention_processor import Attention
from torch import nn

from .token_transformer import PixelTokenTransformer


class MotionCrossBlock(nn.Module):
    """Two cross-attentions to the motion tokens (pre-LayerNorm, residual), then a GEGLU FF."""

    def __init__(self, dim: int, num_heads: int, motion_dim: int):
        super().__init__()
        self.attention_blocks = nn.ModuleList(
            [
                Attention(query_dim=dim, cross_attention_dim=motion_dim, heads=num_heads, dim_head=dim // num_heads,
                          bias=False)
                for _ in range(2)
            ]
        )
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(2)])
        self.ff = FeedForward(dim, activation_fn="geglu")
        self.ff_norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """`tokens` `(N, L, C)`; `motion` `(N, M, motion_dim)`: row n holds frame n's tokens."""
        for norm, attention in zip(self.norms, self.attention_blocks):
            tokens = attention(norm(tokens), encoder_hidden_states=motion) + tokens
        return self.ff(self.ff_norm(tokens)) + tokens


class MotionModule(nn.Module):
    """Injects the motion tokens into `(N, C, H, W)` features (frames folded into N)."""

    def __init__(self, channels: int, num_heads: int, motion_dim: int):
        super().__init__()
        self.temporal_transformer = PixelTokenTransformer(channels, MotionCrossBlock(channels, num_heads, motion_dim))

    def forward(self, x: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        return self.temporal_transformer(x, motion)
