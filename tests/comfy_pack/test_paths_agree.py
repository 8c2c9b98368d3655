"""The node chain and the `animate` command's pipeline give identical frames for the same files and seed.

Both run the one streaming session: the command pushes driving frames into it, the nodes push the
conditioning they computed step by step (keypoints, pose maps, motion tokens). Any drift between the
two (batching, preprocessing, padding, the lead-in) shows up here as a single differing bit.
"""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch
from PIL import Image

from personalive_core.animate import animate_frames
from personalive_core.demo_inputs import write_demo_inputs
from personalive_core.motion_controls import MotionControls
from personalive_core.video_io import open_image, read_frames

from .conftest import TEST_SIZE
from .fakes import node_classes


def _image_batch(images) -> torch.Tensor:
    """IMAGE batch as ComfyUI's Load Image / Load Video make it: uint8 RGB / 255."""
    return torch.stack([torch.from_numpy(np.array(i.convert("RGB"))).float() / 255.0 for i in images])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    portrait, video = write_demo_inputs(tmp_path_factory.mktemp("paths"), size=96, frames=7)
    with av.open(str(video)) as container:
        frames = [f.to_image() for f in container.decode(video=0)]
    return portrait, video, _image_batch([Image.open(portrait)]), _image_batch(frames)


@pytest.fixture(scope="module")
def models(pack, tiny_weights_root, fake_models_dir):
    link = fake_models_dir / "personalive" / "tiny_paths"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(tiny_weights_root, target_is_directory=True)
    return node_classes(pack)["LoadPersonaLiveModels"].execute("tiny_paths", "fp32", False)[0]


CONTROLLED = MotionControls(pose_strength=0.6, expression_strength=1.4, mode="relative", smoothing=0.4)


@pytest.mark.parametrize("include_lead_in, controls", [(False, MotionControls()), (True, MotionControls()),
                                                       (True, CONTROLLED)], ids=["plain", "lead-in", "controlled"])
def test_node_chain_equals_the_command_pipeline(pack, models, inputs, include_lead_in, controls):
    portrait, video, reference, driving = inputs
    node = node_classes(pack)
    kps = node["ExtractLivePortraitKeypoints"].execute(models, reference, driving, "keypoints", TEST_SIZE,
                                                       controls.pose_strength, controls.mode, controls.smoothing)[0]
    maps = node["RenderPoseMap"].execute(kps, True)[0]
    ref = node["EncodeReference"].execute(models, reference, TEST_SIZE)[0]
    motion = node["MotionEncode"].execute(models, reference, driving, kps, controls.expression_strength)[0]
    latent = node["PersonaLiveSampler4Step"].execute(models, ref, maps, motion, 5, include_lead_in, False)[0]
    from_nodes = node["ChunkedVAEDecode"].execute(models, latent, 4, False)[0]

    from_command = torch.cat(list(animate_frames(
        models.on_device(), open_image(portrait), read_frames(video, TEST_SIZE), size=TEST_SIZE, seed=5,
        include_lead_in=include_lead_in, decode_chunk=4, controls=controls)))
    assert from_nodes.shape == from_command.shape == (driving.shape[0] + 12 * include_lead_in, TEST_SIZE, TEST_SIZE, 3)
    assert torch.equal(from_nodes, from_command)
