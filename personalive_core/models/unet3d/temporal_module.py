"""Temporal module: at every pixel, self-attention across the frames of the window (the original's
`Vanilla` module with two `Temporal_Self` attention blocks and a sinusoidal position table)."""

from __future__ import annotations

import math

import torch
from diffusers.models.attention import FeedForward
from diffusers.models.attention_processor import Attention
from torch import nn

from .token_transformer import PixelTokenTransformer


def sinusoidal_table(max_len: int, dim: int, device: torch.device | str | None = None) -> torch.Tensor:
    """`(1, max_len, dim)` float32 table: column 2i = sin(p·e_i), 2i+1 = cos(p·e_i),
    e_i = exp(2i · (-ln 10000 / dim)), computed with float32 torch ops like the original."""
    position = torch.arange(max_len, dtype=torch.float32, device=device)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    table = torch.zeros(1, max_len, dim, device=device)
    table[0, :, 0::2] = torch.sin(position * frequency)
    table[0, :, 1::2] = torch.cos(position * frequency)
    return table


class SinusoidalPositions(nn.Module):
    """Adds the position table to a `(N, F, C)` sequence. The table is a persistent buffer `pe`:
    a value stored in a checkpoint replaces the computed one."""

    def __init__(self, dim: int, max_len: int):
        super().__init__()
        self.dim, self.max_len = dim, max_len
        self.register_buffer("pe", sinusoidal_table(max_len, dim))

    def reset_table(self, device: torch.device | str, dtype: torch.dtype) -> None:
        """(Re)compute `pe`, e.g. after a meta-device build when no file provided it."""
        self.pe = sinusoidal_table(self.max_len, self.dim, device).to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[:, : x.shape[1]]


class TemporalSelfAttention(Attention):
    """diffusers `Attention` over the frame axis at every pixel, with a position table on its input."""

    def __init__(self, dim: int, num_heads: int, max_len: int):
        super().__init__(query_dim=dim, heads=num_heads, dim_head=dim // num_heads, bias=False)
        self.pos_encoder = SinusoidalPositions(dim, max_len)

    def forward(self, tokens: torch.Tensor, num_frames: int) -> torch.Tensor:
        """`tokens` `((B·F), L, C)` → attention across the F frames of each pixel → same shape."""
        bf, length, channels = tokens.shape
        batch = bf // num_frames
        seq = tokens.reshape(batch, num_frames, length, channels).permute(0, 2, 1, 3)
        seq = self.pos_encoder(seq.reshape(batch * length, num_frames, channels))
        out = super().forward(seq)
        out = out.reshape(batch, length, num_frames, channels).permute(0, 2, 1, 3)
        return out.reshape(bf, length, channels)


class TemporalSelfBlock(nn.Module):
    """Two temporal self-attentions (pre-LayerNorm, residual), then a GEGLU FF."""

    def __init__(self, dim: int, num_heads: int, max_len: int):
        super().__init__()
        self.attention_blocks = nn.ModuleList([TemporalSelfAttention(dim, num_heads, max_len) for _ in range(2)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(2)])
        self.ff = FeedForward(dim, activation_fn="geglu")
        self.ff_norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor, num_frames: int) -> torch.Tensor:
        for norm, attention in zip(self.norms, self.attention_blocks):
            tokens = attention(norm(tokens), num_frames) + tokens
        return self.ff(self.ff_norm(tokens)) + tokens


class TemporalModule(nn.Module):
    """Mixes `(N, C, H, W)` features across the frames of the window (frames folded into N)."""

    def __init__(self, channels: int, num_heads: int, max_len: int):
        super().__init__()
        self.temporal_transformer = PixelTokenTransformer(channels, TemporalSelfBlock(channels, num_heads, max_len))

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        return self.temporal_transformer(x, num_frames)
