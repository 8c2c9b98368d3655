"""Down, mid and up blocks of the denoising UNet.

Every layer runs resnet → spatial transformer (cross-attention blocks only) → motion module →
temporal module, in that order; the mid block runs resnet, then spatial → motion → temporal →
resnet. Features are `(B·F, C, H, W)` with the frames folded into the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from diffusers.models.downsampling import Downsample2D
from diffusers.models.upsampling import Upsample2D
from torch import nn

from .layers import LayerFactory

if TYPE_CHECKING:
    from .reference_attention import ReferenceAttention


@dataclass
class Conditioning:
    """What the layers need besides the features, one row per folded frame."""

    temb: torch.Tensor  # (B·F, time_embed_dim): embedding of each frame's own timestep
    clip: torch.Tensor  # (B·F, 1, D): CLIP context of the spatial transformers
    motion: torch.Tensor  # (B·F, 32, 16): motion tokens of the motion modules
    num_frames: int  # F, the sequence length of the temporal modules
    reference: ReferenceAttention | None  # extra self-attention keys/values, or None


def _run_layer(block: nn.Module, i: int, x: torch.Tensor, cond: Conditioning) -> torch.Tensor:
    """Layer i of a block after its resnet: S (if any) → M → T."""
    if block.attentions is not None:
        x = block.attentions[i](x, cond.clip, cond.reference)
    x = block.motion_modules[i](x, cond.motion)
    return block.temporal_modules[i](x, cond.num_frames)


class DownBlock3D(nn.Module):
    """`num_layers` × (R → [S] → M → T), then an optional stride-2 conv downsampler."""

    def __init__(self, layers: LayerFactory, in_channels: int, out_channels: int, num_layers: int,
                 num_heads: int | None, add_downsample: bool, downsample_padding: int = 1):
        super().__init__()
        # Registration order (attentions, resnets, motion, temporal, downsamplers) follows the original.
        self.attentions = (
            nn.ModuleList([layers.spatial(out_channels, num_heads) for _ in range(num_layers)]) if num_heads else None
        )
        self.resnets = nn.ModuleList(
            [layers.resnet(in_channels if i == 0 else out_channels, out_channels) for i in range(num_layers)]
        )
        self.motion_modules = nn.ModuleList([layers.motion(out_channels) for _ in range(num_layers)])
        self.temporal_modules = nn.ModuleList([layers.temporal(out_channels) for _ in range(num_layers)])
        self.downsamplers = (
            nn.ModuleList([Downsample2D(out_channels, use_conv=True, out_channels=out_channels,
                                        padding=downsample_padding, name="op")])
            if add_downsample else None
        )

    def forward(self, x: torch.Tensor, cond: Conditioning) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = []
        for i, resnet in enumerate(self.resnets):
            x = _run_layer(self, i, resnet(x, cond.temb), cond)
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x, skips


class MidBlock3D(nn.Module):
    """R, then S → M → T → R."""

    def __init__(self, layers: LayerFactory, channels: int, num_heads: int, output_scale_factor: float = 1.0):
        super().__init__()
        self.attentions = nn.ModuleList([layers.spatial(channels, num_heads)])
        self.resnets = nn.ModuleList([layers.resnet(channels, channels, output_scale_factor) for _ in range(2)])
        self.motion_modules = nn.ModuleList([layers.motion(channels)])
        self.temporal_modules = nn.ModuleList([layers.temporal(channels)])

    def forward(self, x: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        x = self.resnets[0](x, cond.temb)
        for i, resnet in enumerate(self.resnets[1:]):
            x = resnet(_run_layer(self, i, x, cond), cond.temb)
        return x


class UpBlock3D(nn.Module):
    """`num_layers` × (concatenate a skip → R → [S] → M → T), then an optional upsampler
    (nearest ×2, then a 3x3 conv)."""

    def __init__(self, layers: LayerFactory, in_channels: int, prev_output_channels: int, out_channels: int,
                 num_layers: int, num_heads: int | None, add_upsample: bool):
        super().__init__()
        self.attentions = (
            nn.ModuleList([layers.spatial(out_channels, num_heads) for _ in range(num_layers)]) if num_heads else None
        )
        resnets = []
        for i in range(num_layers):
            skip_channels = in_channels if i == num_layers - 1 else out_channels
            running_channels = prev_output_channels if i == 0 else out_channels
            resnets.append(layers.resnet(running_channels + skip_channels, out_channels))
        self.resnets = nn.ModuleList(resnets)
        self.motion_modules = nn.ModuleList([layers.motion(out_channels) for _ in range(num_layers)])
        self.temporal_modules = nn.ModuleList([layers.temporal(out_channels) for _ in range(num_layers)])
        self.upsamplers = (
            nn.ModuleList([Upsample2D(out_channels, use_conv=True, out_channels=out_channels)]) if add_upsample else None
        )

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor], cond: Conditioning,
                upsample_size: tuple[int, int] | None = None) -> torch.Tensor:
        """`skips` are this block's skip tensors in down-path order; the last one is used first."""
        for i, resnet in enumerate(self.resnets):
            x = torch.cat([x, skips[-1 - i]], dim=1)
            x = _run_layer(self, i, resnet(x, cond.temb), cond)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x, upsample_size)
        return x
