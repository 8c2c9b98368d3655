"""The seven nodes chained on the real core facade (tiny random weights, CPU), still without a server:
catches any drift between what the nodes call and what personalive_core.api provides."""

from __future__ import annotations

import pytest
import torch

from .conftest import TEST_SIZE


@pytest.fixture(scope="module")
def real_models(pack, tiny_weights_root, fake_models_dir):
    link = fake_models_dir / "personalive" / "tiny_real"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(tiny_weights_root, target_is_directory=True)
    return pack.NODE_CLASS_MAPPINGS["LoadPersonaLiveModels"]().load("tiny_real", "fp32", False)[0]


def test_node_chain_on_the_real_core(pack, real_models, rec):
    nodes = {name: cls() for name, cls in pack.NODE_CLASS_MAPPINGS.items()}
    assert (
        pack.NODE_CLASS_MAPPINGS["LoadPersonaLiveModels"].VALIDATE_INPUTS(
            weights_folder="tiny_real", auto_download=False
        )
        is True
    )
    gen = torch.Generator().manual_seed(0)
    reference = torch.rand(1, 80, 72, 3, generator=gen)
    driving = torch.rand(5, 96, 128, 3, generator=gen)
    kps = nodes["ExtractLivePortraitKeypoints"].extract(real_models, reference, driving, "keypoints", TEST_SIZE)[0]
    assert kps.num_frames == 5
    maps = nodes["RenderPoseMap"].render(kps, True)[0]
    assert maps.shape == (12 + 5, TEST_SIZE, TEST_SIZE, 3) and 0 <= maps.min() and maps.max() <= 1
    assert nodes["RenderPoseMap"].render(kps, False)[0].shape[0] == 5
    ref = nodes["EncodeReference"].encode(real_models, reference, TEST_SIZE)[0]
    motion = nodes["MotionEncode"].encode(real_models, reference, driving, kps)[0]
    assert motion.num_frames == 5
    rec.reset()
    latent = nodes["PersonaLiveSampler4Step"].sample(real_models, ref, maps, motion, 3, False, True)[0]
    assert latent["samples"].shape == (5, 4, TEST_SIZE // 8, TEST_SIZE // 8)
    windows = [p for p in rec.progress]
    assert windows[0][0] == 1 and windows[-1][0] == windows[-1][1]  # per window, ending at 100 %
    assert windows[0][2][0] == "JPEG"  # a preview of the first window
    again = nodes["PersonaLiveSampler4Step"].sample(real_models, ref, maps, motion, 3, False, False)[0]
    assert torch.equal(again["samples"], latent["samples"])  # same seed, same animation
    images = nodes["ChunkedVAEDecode"].decode(real_models, latent, 2, False)[0]
    assert images.shape == (5, TEST_SIZE, TEST_SIZE, 3) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1
