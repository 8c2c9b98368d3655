"""LivePortrait motion extractor: implicit keypoints and head pose of a 256x256 face image.

Only the raw detector outputs are computed here; turning them into posed keypoints is
`personalive_core.keypoints`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..weights import LoadReport, load_into, load_state_dict_file
from .convnextv2 import ConvNeXtV2

NUM_BINS = 66  # head-pose bins of 3 degrees

# Keys the official file may lack (the original loads it with strict=False):
TOLERATED_MISSING = (
    "idx_tensor",  # the bin indices 0..65, recomputed by the constructor
    "detector.fc_exp.*",  # the expression head exists but its output is never used
)


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


def load_motion_extractor(path: str | Path, dtype=torch.float32, device="cpu") -> tuple[MotionExtractor, LoadReport]:
    """Build `MotionExtractor(num_kp=21)`, cast it to `dtype`, load `path` and put it in eval mode.

    Every `detector.*` key except the unused `fc_exp` head must be in the file.
    """
    state = load_state_dict_file(path)
    with torch.device("meta"):
        model = MotionExtractor(num_kp=21)
    model.idx_tensor = torch.arange(NUM_BINS, dtype=torch.float32)  # a real value even if the file lacks it
    report = load_into(
        model.to(dtype), [(Path(path).name, state)], model="motion_extractor", tolerate_missing=TOLERATED_MISSING
    )
    _zero_fill_meta(model)  # fc_exp when the file lacks it: never computed, but must be real
    return model.to(device).eval(), report


def _zero_fill_meta(model: nn.Module) -> None:
    """Replace parameters still on the meta device (tolerated missing keys) by zeros."""
    for module in model.modules():
        for name, param in module._parameters.items():
            if param is not None and param.is_meta:
                zeros = torch.zeros(param.shape, dtype=param.dtype)
                module._parameters[name] = nn.Parameter(zeros, requires_grad=False)
