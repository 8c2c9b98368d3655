"""fp16 and bf16 run end to end (on the CPU here), so dtype slips show up without a GPU."""

from __future__ import annotations

import pytest
import torch

from personalive_core import api
from personalive_core.decoding import decode_all, unscale
from personalive_core.demo_inputs import draw_face
from personalive_core.loading import load_models
from personalive_core.reference import encode_reference
from personalive_core.streaming import SeededNoise, StreamSession
from personalive_core.tiny_weights import write_tiny_weights
from personalive_core.video_io import square_frame

SIZE = 64


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_tiny_weights(tmp_path_factory.mktemp("tiny-random"))


def _faces(n: int) -> list[torch.Tensor]:
    return [square_frame(draw_face(SIZE, yaw=i / n), SIZE) for i in range(n)]


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_streaming_in_half_precision(weights, precision):
    models = load_models(weights, precision, "cpu")
    reference = encode_reference(models, draw_face(SIZE), size=SIZE)
    assert reference.latents.dtype == models.dtype
    session = StreamSession(models, reference, SeededNoise(0))
    finished = session.push_frames(torch.stack(_faces(5)).to(models.dtype)) + session.finish()
    latents = torch.cat([c.latents for c in finished])
    assert latents.shape == (5, 4, SIZE // 8, SIZE // 8) and latents.dtype == models.dtype
    frames = decode_all(models.vae, unscale(latents), 4)
    assert frames.dtype == torch.float32 and torch.isfinite(frames).all()


def test_node_facade_in_bf16(weights):
    models = api.load_models(weights, "bf16", "cpu")
    reference = ((torch.stack(_faces(1)).permute(0, 2, 3, 1)) + 1) / 2
    driving = ((torch.stack(_faces(3)).permute(0, 2, 3, 1)) + 1) / 2
    kps = api.extract_keypoints(models, reference, driving, size=SIZE)
    maps = api.render_pose_maps(kps)
    ref = api.encode_reference(models, reference, size=SIZE)
    motion = api.encode_motion(models, reference, driving, kps)
    latents = api.sample(models, ref, maps, motion, seed=1)
    assert latents.shape == (3, 4, SIZE // 8, SIZE // 8) and latents.dtype == torch.float32
    images = api.decode_latents(models, latents, chunk_size=2)
    assert images.shape == (3, SIZE, SIZE, 3) and torch.isfinite(images).all()
