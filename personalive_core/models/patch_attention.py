"""Patch self-attention blocks of the motion encoder's FAN (`att_1`, `att_2`, `att_3`).

A feature map is cut into 28x28 patches, each patch becomes a 1024-wide token (with a fixed 2-D sin/cos
position table), one transformer block mixes all tokens of the image, and every token is projected back
to its patch's pixels and added to the input.
"""

from __future__ import annotations

import torch
from diffusers.models.attention import FeedForward
from diffusers.models.attention_processor import Attention
from torch import nn

from .sincos import sincos_table_2d


class PatchEmbed(nn.Module):
    """Conv patchify (kernel = stride = patch) to (N, tokens, dim), plus the 2-D sin/cos table.

    The table is a non-persistent buffer: it is not in the checkpoint and always recomputed.
    """

    def __init__(self, in_channels: int, sample_size: int, patch_size: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        table = sincos_table_2d(dim, sample_size // patch_size)
        self.register_buffer("pos_embed", table.unsqueeze(0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.proj(x).flatten(2).transpose(1, 2)
        return (tokens + self.pos_embed).to(tokens.dtype)


class SelfAttentionBlock(nn.Module):
    """Pre-norm transformer block: self-attention then GEGLU feed-forward, both residual."""

    def __init__(self, dim: int, heads: int, head_dim: int):
        super().__init__()
        self.attention_blocks = nn.ModuleList([Attention(query_dim=dim, heads=heads, dim_head=head_dim, bias=False)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim)])
        self.ff = FeedForward(dim, activation_fn="geglu")
        self.ff_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention_blocks[0](self.norms[0](x)) + x
        return self.ff(self.ff_norm(x)) + x


class PatchAttention(nn.Module):
    """(N, C, S, S) -> (N, C, S, S): patch tokens -> self-attention block -> un-patchify, plus the input."""

    def __init__(self, in_channels: int, sample_size: int, patch_size: int, heads: int = 8, head_dim: int = 128):
        super().__init__()
        dim = heads * head_dim
        self.patch_size = patch_size
        self.norm = nn.GroupNorm(32, in_channels, eps=1e-6)
        self.transformer_blocks = nn.ModuleList([SelfAttentionBlock(dim, heads, head_dim)])
        self.proj_out = nn.Linear(dim // patch_size**2, in_channels)
        self.pos_embed = PatchEmbed(in_channels, sample_size, patch_size, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, height, width = x.shape
        p = self.patch_size
        tokens = self.pos_embed(self.norm(x))
        for block in self.transformer_blocks:
            tokens = block(tokens)
        # Each token holds its p x p patch as (p, p, dim/p^2) sub-vectors; project and put them in place.
        pixels = self.proj_out(tokens.reshape(n, height // p, width // p, p, p, -1))
        pixels = pixels.permute(0, 5, 1, 3, 2, 4).reshape(n, c, height, width)
        return pixels + x
