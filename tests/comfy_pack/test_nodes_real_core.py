"""The seven nodes chained on the real core (tiny random weights, CPU), still without a server: odd image
sizes in, every output's shape and range checked."""

from __future__ import annotations

import torch

from .conftest import TEST_SIZE


def test_node_chain_on_the_real_core(pack, real_models, weights_dir, rec):
    nodes = {name: cls() for name, cls in pack.NODE_CLASS_MAPPINGS.items()}
    loader = pack.NODE_CLASS_MAPPINGS["LoadPersonaLiveModels"]
    assert loader.VALIDATE_INPUTS(weights_folder=weights_dir.name, auto_download=False) is True
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
    images = nodes["ChunkedVAEDecode"].decode(real_models, latent, 2, False)[0]
    assert images.shape == (5, TEST_SIZE, TEST_SIZE, 3) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1
