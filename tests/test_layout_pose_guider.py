"""PoseGuider layout at full size, and its width taken from the checkpoint."""

from __future__ import annotations

import torch

from helpers import manifest_layout, state_layout
from personalive_core.models.pose_guider import PoseGuider, load_pose_guider


def test_pose_guider_layout_matches_the_manifest(manifest):
    with torch.device("meta"):
        model = PoseGuider()
    assert list(state_layout(model).items()) == list(manifest_layout(manifest, "pose_guider.pth").items())


def test_pose_guider_width_follows_the_checkpoint(tiny_weights):
    model, _ = load_pose_guider(tiny_weights / "personalive" / "pose_guider.pth")
    assert model.conv_out_modify.out_channels == 32  # the fixture UNet's first block width
    out = model(torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, 32, 8, 8)
