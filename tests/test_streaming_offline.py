"""The streaming session driven by frames: one output frame per driving frame, any length, reproducible
seeds, push-based use, saved and restored state."""

from __future__ import annotations

import io

import pytest
import torch

from personalive_core.decoding import decode_all, unscale
from personalive_core.streaming import RecordedNoise, SeededNoise, StreamSession

FRAME_ABS_TOL = 1e-3


def _run(models, reference, frames, noise, include_lead_in=False, per_push=4):
    """Push `frames` `per_push` at a time, then finish; (chunks, all latents)."""
    session = StreamSession(models, reference, noise, include_lead_in=include_lead_in)
    chunks = []
    for start in range(0, frames.shape[0], per_push):
        chunks += session.push_frames(frames[start:start + per_push])
    chunks += session.finish()
    return chunks, torch.cat([c.latents for c in chunks])


@pytest.mark.parametrize("length", [1, 3, 4, 5, 13])
def test_one_output_frame_per_driving_frame(tiny_models, reference, driving, length):
    chunks, latents = _run(tiny_models, reference, driving[:length], SeededNoise(0))
    assert latents.shape[0] == length
    assert [c.first_frame for c in chunks] == list(range(0, length, 4))
    assert not any(c.lead_in for c in chunks)


def test_lead_in_frames_on_request(tiny_models, reference, driving):
    chunks, latents = _run(tiny_models, reference, driving[:2], SeededNoise(0), include_lead_in=True)
    assert latents.shape[0] == 12 + 2
    assert [c.lead_in for c in chunks] == [True, True, True, False]


def test_64_frames_match_the_original_outputs(golden, tiny_models, reference, driving):
    """Driving frames 0-51 come out as the original's output frames 12-63 (the original never emits
    the last 12 frames; here they are flushed out too)."""
    calls = golden.call_names()
    recorded = [golden.load("fuse_reference")["randn_like"]] + [golden.load(c)["randn_like"] for c in calls]
    _, latents = _run(tiny_models, reference, driving, RecordedNoise(recorded, then=SeededNoise(0)))
    assert latents.shape[0] == 64
    frames = decode_all(tiny_models.vae, unscale(latents[:52]), chunk_size=8)
    original = golden.load("outputs")["frames"][12:64]
    err = (frames - original).abs().max().item()
    print(f"\nframes 0-51 vs original outputs 12-63: max abs error {err:.3e} (tolerance {FRAME_ABS_TOL})")
    assert err <= FRAME_ABS_TOL


def test_seeded_runs_are_reproducible_and_seeds_differ(tiny_models, reference, driving):
    _, a = _run(tiny_models, reference, driving[:4], SeededNoise(7))
    _, b = _run(tiny_models, reference, driving[:4], SeededNoise(7))
    _, c = _run(tiny_models, reference, driving[:4], SeededNoise(8))
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3


def test_pushing_one_frame_at_a_time_gives_the_same_frames(tiny_models, reference, driving):
    """Push-based use as a camera gives frames: the same latents as whole chunks, and the first
    driving chunk comes out once 16 frames went in (the window's delay), not at the end."""
    _, whole = _run(tiny_models, reference, driving[:10], SeededNoise(3))
    session = StreamSession(tiny_models, reference, SeededNoise(3))
    came_out_after = []
    single = []
    for i, frame in enumerate(driving[:10]):
        finished = session.push_frames(frame)
        came_out_after += [i + 1] * len(finished)
        single += [c.latents for c in finished]
    single += [c.latents for c in session.finish()]
    assert torch.equal(torch.cat(single), whole)
    assert came_out_after == []  # 10 frames: every driving chunk is still in the window until finish
    session = StreamSession(tiny_models, reference, SeededNoise(3))
    counts = [len(session.push_frames(frame)) for frame in driving[:20]]
    assert counts.index(1) == 15 and sum(counts) == 2  # chunk 0 after frame 16, chunk 1 after frame 20
    assert session.latency_frames == 12


def test_state_saved_mid_stream_continues_bit_identically(tiny_models, reference, driving):
    """Save the whole state after 3 chunks (through torch.save with weights_only loading), restore it
    into a new session, finish: the same latents as an uninterrupted run."""
    _, whole = _run(tiny_models, reference, driving[:26], SeededNoise(11))
    first = StreamSession(tiny_models, reference, SeededNoise(11))
    before = [c.latents for c in first.push_frames(driving[:14])]  # 3 chunks + 2 waiting frames
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    second = StreamSession(tiny_models, reference, SeededNoise(999))  # the restored noise state wins
    second.load_state_dict(state)
    after = [c.latents for c in second.push_frames(driving[14:26]) + second.finish()]
    assert torch.equal(torch.cat(before + after), whole)


def test_a_session_without_frames_says_so(tiny_models, reference):
    from personalive_core.errors import InputError

    with pytest.raises(InputError, match="no frames"):
        StreamSession(tiny_models, reference, SeededNoise(0)).finish()
