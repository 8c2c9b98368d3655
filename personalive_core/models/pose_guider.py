"""PoseGuider: encodes pose maps into features added to the denoising UNet after `conv_in`."""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

# (in, out, stride) of the six 3x3 convolutions between conv_in and conv_out_modify.
BLOCKS = ((16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 96, 2), (96, 96, 1), (96, 256, 2))


class PoseGuider(nn.Module):
    """Pose maps (N,3,H,W) in [0,1] -> features (N, out_channels, H/8, W/8).

    `out_channels` equals the width of the UNet's first block (320 for the released model).
    """

    def __init__(self, out_channels: int = 320, in_channels: int = 3):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, BLOCKS[0][0], 3, padding=1)
        self.blocks = nn.ModuleList(nn.Conv2d(i, o, 3, stride=s, padding=1) for i, o, s in BLOCKS)
        self.conv_out_modify = nn.Conv2d(BLOCKS[-1][1], out_channels, 3, padding=1)

    def forward(self, pose_maps: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.conv_in(pose_maps))
        for conv in self.blocks:
            h = F.silu(conv(h))
        return self.conv_out_modify(h)
