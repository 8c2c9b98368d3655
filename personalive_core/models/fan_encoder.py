"""FAN with patch self-attention (the original's `FAN_SA`): face crop -> 512-dim motion feature."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .fan_blocks import ConvBlock, HourGlass
from .patch_attention import PatchAttention


class FANEncoder(nn.Module):
    """Face crops (N,3,224,224) in [-1,1] -> features (N,512).

    A FAN stem and hourglass with patch self-attention after the 112x112 stage (`att_1`), the 56x56
    stage (`att_2`) and the hourglass head (`att_3`); the 68 landmark heatmaps are reduced to one 28x28
    map (`conv6`) and projected by `fc`.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = ConvBlock(64, 128)
        self.conv3 = ConvBlock(128, 128)
        self.conv4 = ConvBlock(128, 256)
        self.m0 = HourGlass(depth=4, width=256)
        self.top_m_0 = ConvBlock(256, 256)
        self.conv_last0 = nn.Conv2d(256, 256, kernel_size=1)
        self.l0 = nn.Conv2d(256, 68, kernel_size=1)
        self.bn_end0 = nn.BatchNorm2d(256)
        self.conv6 = nn.Conv2d(68, 1, kernel_size=3, stride=2, padding=1)
        self.fc = nn.Linear(28 * 28, 512)
        self.bn5 = nn.BatchNorm2d(68)
        self.att_1 = PatchAttention(128, sample_size=112, patch_size=4)
        self.att_2 = PatchAttention(256, sample_size=56, patch_size=2)
        self.att_3 = PatchAttention(256, sample_size=56, patch_size=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))  # 112x112
        x = self.att_1(self.conv2(x))
        x = F.max_pool2d(x, 2)  # 56x56
        x = self.att_2(self.conv4(self.conv3(x)))
        x = self.top_m_0(self.m0(x))
        x = self.att_3(self.bn_end0(self.conv_last0(x)))
        heat = self.l0(F.relu(x))  # 68 landmark maps
        heat = self.conv6(F.relu(self.bn5(heat)))  # (N,1,28,28)
        return self.fc(F.relu(heat.flatten(1)))
