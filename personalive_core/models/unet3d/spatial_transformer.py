"""Spatial transformer of the denoising UNet: per-frame image tokens attend to themselves plus the
reference tokens, then to the CLIP token (the original's `Transformer3DModel` with its
`TemporalBasicTransformerBlock`s in reference-reading mode)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from diffusers.models.attention import FeedForward
from diffusers.models.attention_processor import Attention
from torch import nn

from .attention_processor import ReferenceSelfAttnProcessor

if TYPE_CHECKING:
    from .reference_attention import ReferenceAttention


class ReferenceTransformerBlock(nn.Module):
    """LayerNorm → self-attention (keys/values: own tokens + reference tokens) → LayerNorm →
    cross-attention to the CLIP context → LayerNorm → GEGLU feed-forward, each with a residual."""

    def __init__(self, dim: int, num_heads: int, cross_attention_dim: int):
        super().__init__()
        head_dim = dim // num_heads
        # Registration order follows the original, so that state_dict() lists keys in its order.
        self.attn1 = Attention(
            query_dim=dim, heads=num_heads, dim_head=head_dim, bias=False, processor=ReferenceSelfAttnProcessor()
        )
        self.norm1 = nn.LayerNorm(dim)
        self.attn2 = Attention(
            query_dim=dim, cross_attention_dim=cross_attention_dim, heads=num_heads, dim_head=head_dim, bias=False
        )
        self.norm2 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, activation_fn="geglu")
        self.norm3 = nn.LayerNorm(dim)
        # Module path of this block, the key of its reference features; set by the UNet.
        self.reference_key = ""

    def forward(
        self, tokens: torch.Tensor, context: torch.Tensor, reference: ReferenceAttention | None
    ) -> torch.Tensor:
        kv = reference.keys_values(self.reference_key) if reference is not None else None
        tokens = self.attn1(self.norm1(tokens), reference_kv=kv) + tokens
        tokens = self.attn2(self.norm2(tokens), encoder_hidden_states=context) + tokens
        return self.ff(self.norm3(tokens)) + tokens


class SpatialTransformer(nn.Module):
    """GroupNorm → 1x1 conv → tokens → transformer block(s) → 1x1 conv → residual, per frame."""

    def __init__(self, channels: int, num_heads: int, cross_attention_dim: int, norm_num_groups: int,
                 num_layers: int = 1):
        super().__init__()
        self.norm = nn.GroupNorm(norm_num_groups, channels, eps=1e-6, affine=True)
        self.proj_in = nn.Conv2d(channels, channels, kernel_size=1)
        self.transformer_blocks = nn.ModuleList(
            [ReferenceTransformerBlock(channels, num_heads, cross_attention_dim) for _ in range(num_layers)]
        )
        self.proj_out = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, reference: ReferenceAttention | None
    ) -> torch.Tensor:
        """`x` `(N, C, H, W)` (frames folded into N); `context` `(N, T, D)`."""
        n, c, h, w = x.shape
        residual = x
        x = self.proj_in(self.norm(x))
        tokens = x.permute(0, 2, 3, 1).reshape(n, h * w, c)
        for block in self.transformer_blocks:
            tokens = block(tokens, context, reference)
        x = tokens.reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous()
        return self.proj_out(x) + residual
