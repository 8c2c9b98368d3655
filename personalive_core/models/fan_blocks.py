"""Building blocks of the FAN face-alignment network used by the motion encoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False)


class ConvBlock(nn.Module):
    """Pre-activation residual block whose three 3x3 conv outputs (cout/2, cout/4, cout/4) are concatenated.

    When the width changes, the shortcut is BatchNorm (eps 1e-4) -> ReLU -> 1x1 conv (`downsample`).
    """

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = _conv3x3(cin, cout // 2)
        self.bn2 = nn.BatchNorm2d(cout // 2)
        self.conv2 = _conv3x3(cout // 2, cout // 4)
        self.bn3 = nn.BatchNorm2d(cout // 4)
        self.conv3 = _conv3x3(cout // 4, cout // 4)
        self.downsample = None
        if cin != cout:
            self.downsample = nn.Sequential(
                nn.BatchNorm2d(cin, eps=1e-4), nn.ReLU(), nn.Conv2d(cin, cout, kernel_size=1, bias=False)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.conv1(F.relu(self.bn1(x)))
        b = self.conv2(F.relu(self.bn2(a)))
        c = self.conv3(F.relu(self.bn3(b)))
        skip = x if self.downsample is None else self.downsample(x)
        return torch.cat((a, b, c), dim=1) + skip


class HourGlass(nn.Module):
    """Recursive encoder-decoder of `ConvBlock(256, 256)`s over `depth` 2x max-pool levels.

    Level L has the upper branch `b1_L`, the lower branch `b2_L` -> (level L-1, or `b2_plus_1` at the
    bottom) -> `b3_L`, and adds the bilinearly upsampled lower branch to the upper one. Pooling floors
    odd sizes (56 -> 28 -> 14 -> 7 -> 3), so the bottom result is resized from 3x3 to 7x7.
    """

    def __init__(self, depth: int = 4, width: int = 256):
        super().__init__()
        self.depth = depth
        self._add_level(depth, width)

    def _add_level(self, level: int, width: int) -> None:
        # Registration order = the checkpoint's key order.
        self.add_module(f"b1_{level}", ConvBlock(width, width))
        self.add_module(f"b2_{level}", ConvBlock(width, width))
        if level > 1:
            self._add_level(level - 1, width)
        else:
            self.add_module(f"b2_plus_{level}", ConvBlock(width, width))
        self.add_module(f"b3_{level}", ConvBlock(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._level(self.depth, x)

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        up = self.get_submodule(f"b1_{level}")(x)  # the original's Dropout(0.5) here is inactive in eval
        low = self.get_submodule(f"b2_{level}")(F.max_pool2d(x, 2, stride=2))
        if level > 1:
            low = self._level(level - 1, low)
        else:
            low = self.get_submodule(f"b2_plus_{level}")(low)
        low = self.get_submodule(f"b3_{level}")(low)
        return up + F.interpolate(low, size=up.shape[-2:], mode="bilinear", align_corners=False)
