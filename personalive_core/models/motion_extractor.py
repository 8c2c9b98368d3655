"""LivePortrait motion extractor: implicit keypoints and head pose of a 256x256 face image.

Only the raw detector outputs are computed here; turning them into posed keypoints is
`personalive_core.keypoints`.
"""

from __future__ import annotations

import torch
from torch import nn

from .convnextv2 import ConvNeXtV2

NUM_BINS = 66  # head-pose bins of 3 degrees


class KeypointDetector(ConvNeXtV2):
    """ConvNeXtV2-tiny with the LivePortrait heads (named `detector` in the checkpoint)."""

    def __init__(self, num_kp: int = 21, num_bins: int = NUM_BINS):
        super().__init__()
        dim = self.norm.normalized_shape[0]
        self.fc_kp = nn.Linear(dim, 3 * num_kp)
        self.fc_scale = nn.Linear(dim, 1)
        self.fc_pitch = nn.Linear(dim, num_bins)
        self.fc_yaw = nn.Linear(dim, num_bins)
        self.fc_roll = nn.Linear(dim, num_bins)
        self.fc_t = nn.Linear(dim, 3)
        self.fc_exp = nn.Linear(dim, 3 * num_kp)  # in the checkpoint, not used by PersonaLive

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.forward_features(x)
        return {
            "kp": self.fc_kp(f),
            "pitch": self.fc_pitch(f),
            "yaw": self.fc_yaw(f),
            "roll": self.fc_roll(f),
            "t": self.fc_t(f),
            "scale": self.fc_scale(f),
        }


class MotionExtractor(nn.Module):
    """Image (B,3,256,256) RGB in [0,1] -> dict of raw detector outputs.

    Keys: `kp` (B,3*num_kp) canonical keypoints, `pitch`/`yaw`/`roll` (B,66) bin logits,
    `t` (B,3) translation, `scale` (B,1).
    """

    def __init__(self, num_kp: int = 21):
        super().__init__()
        self.detector = KeypointDetector(num_kp=num_kp)
        self.register_buffer("idx_tensor", torch.arange(NUM_BINS, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.detector(x.to(self.detector.fc_kp.weight.dtype))
