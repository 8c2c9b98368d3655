"""The offline entry point: one output frame per driving frame, any length, reproducible seeds."""

from __future__ import annotations

import pytest
import torch

from personalive_core.decoding import decode_all, unscale
from personalive_core.reference import encode_reference
from personalive_core.streaming.animate import LatentStream
from personalive_core.streaming.noise import RecordedNoise, SeededNoise

FRAME_ABS_TOL = 1e-3


@pytest.fixture(scope="module")
def reference(tiny_models, golden):
    size = golden.load("fuse_reference")["state.ref_image_tensor"].shape[-1]
    return encode_reference(tiny_models, golden.reference_image(), size=size)


@pytest.fixture(scope="module")
def driving(golden):
    return golden.driving_frames()


def _latents(models, reference, frames, noise, include_lead_in=False):
    chunks = list(LatentStream(models, reference, noise).run(iter(frames), include_lead_in=include_lead_in))
    return chunks, torch.cat([c.latents for c in chunks])


@pytest.mark.parametrize("length", [1, 3, 4, 5, 13])
def test_one_output_frame_per_driving_frame(tiny_models, reference, driving, length):
    chunks, latents = _latents(tiny_models, reference, driving[:length], SeededNoise(0))
    assert latents.shape[0] == length
    assert [c.first_frame for c in chunks] == list(range(0, length, 4))
    assert not any(c.lead_in for c in chunks)


def test_lead_in_frames_on_request(tiny_models, reference, driving):
    chunks, latents = _latents(tiny_models, reference, driving[:2], SeededNoise(0), include_lead_in=True)
    assert latents.shape[0] == 12 + 2
    assert [c.lead_in for c in chunks] == [True, True, True, False]


def test_64_frames_match_the_original_outputs(golden, tiny_models, reference, driving):
    """Driving frames 0-51 come out as the original's output frames 12-63 (the original never emits
    the last 12 frames; here they are flushed out too)."""
    calls = golden.call_names()
    recorded = [golden.load("fuse_reference")["randn_like"]] + [golden.load(c)["randn_like"] for c in calls]
    _, latents = _latents(tiny_models, reference, driving, RecordedNoise(recorded, then=SeededNoise(0)))
    assert latents.shape[0] == 64
    frames = decode_all(tiny_models.vae, unscale(latents[:52]), chunk_size=8)
    original = golden.load("outputs")["frames"][12:64]
    err = (frames - original).abs().max().item()
    print(f"\nframes 0-51 vs original outputs 12-63: max abs error {err:.3e} (tolerance {FRAME_ABS_TOL})")
    assert err <= FRAME_ABS_TOL


def test_seeded_runs_are_reproducible_and_seeds_differ(tiny_models, reference, driving):
    _, a = _latents(tiny_models, reference, driving[:4], SeededNoise(7))
    _, b = _latents(tiny_models, reference, driving[:4], SeededNoise(7))
    _, c = _latents(tiny_models, reference, driving[:4], SeededNoise(8))
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3


def test_frames_are_pulled_as_needed(tiny_models, reference, driving):
    """The first driving chunk comes out after 4 pushes, i.e. before more than 16 frames were read."""
    consumed = []

    def source():
        for i, frame in enumerate(driving[:24]):
            consumed.append(i)
            yield frame

    stream = LatentStream(tiny_models, reference, SeededNoise(0)).run(source())
    first = next(stream)
    assert first.first_frame == 0 and len(consumed) <= 16
    assert sum(c.latents.shape[0] for c in stream) + first.latents.shape[0] == 24
