"""The core live session: frames equal the offline path's when nothing is dropped; the oldest frames are
dropped when processing falls behind; the reference swap and reset restart the stream without
reloading; figures move; memory stays flat over a long stream."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from personalive_core.animate import animate_frames
from personalive_core.demo_inputs import draw_face
from personalive_core.errors import InputError
from personalive_core.frames import square_frame
from personalive_core.live import LiveOptions, LiveSession
from personalive_core.motion_controls import MotionControls

SIZE = 64


@pytest.fixture(scope="module")
def models(tiny_random_weights):
    from personalive_core.loading import load_models

    return load_models(tiny_random_weights, dtype="fp32", device="cpu")


def camera(count: int, start: int = 0) -> list[Image.Image]:
    """Camera frames, wider than tall (the session centre-crops them)."""
    return [draw_face(96, yaw=np.sin(i / 3), mouth=0.5 + 0.5 * np.sin(i)).resize((128, 96))
            for i in range(start, start + count)]


def stream(session: LiveSession, frames: list, count: int, wait_every: int = 1) -> None:
    """Push `count` of `frames` (round and round), waiting for the session and reading its output after
    every `wait_every` pushes."""
    for i in range(count):
        session.push(frames[i % len(frames)], timestamp=float(i))
        if i % wait_every == wait_every - 1:
            session.wait_idle(timeout=60)
            drain(session)


def drain(session: LiveSession, timeout: float = 0.0) -> list:
    frames = []
    while (frame := session.get(timeout=timeout)) is not None:
        frames.append(frame)
    return frames


def test_frames_equal_the_offline_pipeline_when_nothing_is_dropped(models):
    portrait, inputs = draw_face(96), camera(10)
    controls = MotionControls(pose_strength=0.7, smoothing=0.4)
    session = LiveSession(models, portrait, LiveOptions(size=SIZE, seed=5, controls=controls, max_queue=64))
    for i, image in enumerate(inputs):
        session.push(image, timestamp=1000.0 + i)
    session.flush(timeout=300)
    live = drain(session)
    stats = session.stats()
    session.close()
    offline = torch.cat(list(animate_frames(models, portrait, [square_frame(f, SIZE) for f in inputs], size=SIZE,
                                            seed=5, controls=controls)))
    expected = (offline.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    assert [f.index for f in live] == list(range(10)) and [f.timestamp for f in live] == [1000.0 + i for i in range(10)]
    assert np.array_equal(np.stack([f.image for f in live]), expected)
    assert stats.frames_in == stats.frames_out == 10 and stats.dropped == 0 and stats.queue == 0
    assert stats.latency_ms is not None and stats.latency_ms > 0


def test_the_oldest_frames_are_dropped_when_processing_falls_behind(models, monkeypatch):
    session = LiveSession(models, draw_face(96), LiveOptions(size=SIZE, max_queue=3))
    slow = session._animation.feed

    def slow_feed(frame):  # an artificially slow pipeline: 50 ms per frame
        time.sleep(0.05)
        yield from slow(frame)

    monkeypatch.setattr(session._animation, "feed", slow_feed)
    for i, image in enumerate(camera(40)):
        session.push(image, timestamp=float(i))  # a burst far faster than 20 frames/s
    assert session.stats().queue <= 3
    session.flush(timeout=120)
    out = drain(session, timeout=0.0)
    stats = session.stats()
    session.close()
    assert stats.dropped >= 30 and stats.frames_in == 40
    assert stats.frames_out + stats.dropped == 40 and stats.delay_frames == 0  # every frame accounted for
    indices = [f.index for f in out]
    assert indices == sorted(indices) and indices[-3:] == [37, 38, 39]  # in order; the newest frames won


def test_reference_swap_changes_the_output_and_reset_restarts(models):
    first, second = draw_face(96), draw_face(96, yaw=0.9, mouth=1.0).rotate(20)
    inputs = camera(8)

    def run(swap_to=None, reset=False):
        session = LiveSession(models, first, LiveOptions(size=SIZE, seed=1, max_queue=64))
        for image in inputs[:4]:
            session.push(image)
        session.wait_idle(timeout=300)
        if swap_to is not None:
            session.replace_reference(swap_to)
        if reset:
            session.reset()
        for image in inputs[4:]:
            session.push(image)
        session.flush(timeout=300)
        frames = drain(session)
        session.close()
        return frames

    plain, swapped, restarted = run(), run(swap_to=second), run(reset=True)
    after = lambda frames: np.stack([f.image for f in frames if f.index >= 4])  # noqa: E731
    assert len(after(swapped)) == len(after(plain)) == 4
    assert np.abs(after(swapped).astype(int) - after(plain)).mean() > 1  # another portrait
    fresh = LiveSession(models, first, LiveOptions(size=SIZE, seed=1, max_queue=64))
    for image in inputs[4:]:
        fresh.push(image)
    fresh.flush(timeout=300)
    expected = np.stack([f.image for f in drain(fresh)])
    fresh.close()
    assert np.array_equal(after(restarted), expected)  # reset: as a new session fed from frame 4


def test_a_bad_new_reference_is_refused_and_the_session_carries_on(models):
    session = LiveSession(models, draw_face(96), LiveOptions(size=SIZE, max_queue=64))
    with pytest.raises(InputError, match="the new reference portrait is 8x8 pixels; give a picture at least 32x32"):
        session.replace_reference(Image.new("RGB", (8, 8)))
    for image in camera(4):
        session.push(image)
    session.flush(timeout=300)
    assert len(drain(session)) == 4
    session.close()
    with pytest.raises(InputError, match="closed"):
        session.push(camera(1)[0])


def resident_mb() -> float:
    """This process's resident memory now (not its peak, which an earlier test may have set higher)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("resident memory is read from /proc/self/status (Linux)")


def test_memory_stays_flat_over_a_long_stream(models):
    session = LiveSession(models, draw_face(96), LiveOptions(size=SIZE, max_queue=4))
    frames = camera(8)
    stream(session, frames, 16)
    before = resident_mb()
    stream(session, frames, 48)
    grown_mb = resident_mb() - before
    stats = session.stats()
    session.close()
    assert stats.frames_out == 64 - stats.delay_frames and stats.delay_frames <= 12 and stats.dropped == 0
    assert 0 < stats.fps < 1000
    assert grown_mb < 40, f"peak memory grew by {grown_mb:.0f} MB over 48 frames"


class WindowedEcho:
    """Stands in for the pipeline in the thousands-of-frames test (the real one runs at about one frame a
    second here): the same cadence, a 4-frame window out for every 4 frames in after a 16-frame delay,
    at no cost, so what is measured is the session's own bookkeeping."""

    def __init__(self, size: int):
        self.size, self.frames_in = size, 0

    def feed(self, frame: torch.Tensor):
        assert frame.shape == (3, self.size, self.size)
        self.frames_in += 1
        if self.frames_in > 16 and self.frames_in % 4 == 0:
            yield torch.full((4, self.size, self.size, 3), (self.frames_in % 256) / 255.0)


def test_the_sessions_bookkeeping_stays_flat_over_thousands_of_frames(models):
    session = LiveSession(models, draw_face(96), LiveOptions(size=SIZE, max_queue=8, max_out=32))
    session._animation = WindowedEcho(SIZE)  # 8 frames are pushed between two waits: none is dropped
    frames = camera(8)
    stream(session, frames, 400, wait_every=8)
    before = resident_mb()
    stream(session, frames, 3200, wait_every=8)
    grown_mb = resident_mb() - before
    stats = session.stats()
    inside = (len(session._in_stream), len(session._latencies), len(session._out), len(session._waiting))
    session.close()
    assert stats.frames_in == 3600 and stats.dropped == 0 and stats.frames_out == 3600 - stats.delay_frames
    assert stats.delay_frames <= 16 and inside[0] <= 16 and inside[1] <= 32 and inside[2] == inside[3] == 0
    assert grown_mb < 8, f"resident memory grew by {grown_mb:.1f} MB over 3200 frames"
