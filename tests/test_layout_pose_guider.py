"""PoseGuider layout at full size, and its width taken from the UNet it feeds."""

from __future__ import annotations

import pytest
import torch

from helpers import manifest_layout, state_layout
from personalive_core.errors import WeightsError
from personalive_core.loading import load_models
from personalive_core.models import NETWORKS, load_network
from personalive_core.models.pose_guider import PoseGuider


def test_pose_guider_layout_matches_the_manifest(manifest):
    with torch.device("meta"):
        model = PoseGuider()
    assert list(state_layout(model).items()) == list(manifest_layout(manifest, "pose_guider.pth").items())
    sd1 = {"block_out_channels": [320, 640, 1280, 1280]}
    assert NETWORKS["pose_guider"].layout(sd1) == state_layout(model)


def test_pose_guider_width_follows_the_unet(tiny_weights):
    model, _ = load_network("pose_guider", tiny_weights)
    assert model.conv_out_modify.out_channels == 32  # the fixture UNet's first block width
    out = model(torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, 32, 8, 8)


def test_load_models_refuses_a_pose_guider_of_another_width(tiny_weights, tmp_path):
    root = tmp_path / "weights"
    for sub in ("sd-image-variations-diffusers", "sd-vae-ft-mse"):
        (root / sub).parent.mkdir(parents=True, exist_ok=True)
        (root / sub).symlink_to(tiny_weights / sub)
    (root / "personalive").mkdir()
    for f in (tiny_weights / "personalive").iterdir():
        if not f.name.startswith("pose_guider"):
            (root / "personalive" / f.name).symlink_to(f)
    torch.save(PoseGuider(out_channels=64).state_dict(), root / "personalive" / "pose_guider.pth")
    with pytest.raises(WeightsError, match=r"outputs 64 channels, but the UNet's first block is 32 wide"):
        load_models(root, "fp32")
