"""`low_vram`: the start-only networks wait on the offload device, visit the compute device only for the
reference step and for history keyframes, and the frames are bit-identical to the normal mode."""

from __future__ import annotations

import torch

from personalive_core.animate import Animation
from personalive_core.demo_inputs import draw_face
from personalive_core.loading import load_models
from personalive_core.residency import START_NETWORKS, LowVram
from personalive_core.streaming import denoiser
from personalive_core.video_io import square_frame

SIZE = 64
FRAMES = 12


def _stream(models) -> tuple[torch.Tensor, int]:
    """The frames and the number of history keyframes the stream added."""
    driving = [square_frame(draw_face(SIZE, yaw=(i % 7) / 7, mouth=(i % 3) / 3), SIZE) for i in range(FRAMES)]
    animation = Animation(models, draw_face(SIZE), size=SIZE, seed=5)
    frames = torch.cat([f for frame in driving for f in animation.feed(frame)] + list(animation.finish()))
    return frames, animation.session.denoiser.attention.num_keyframes


def test_low_vram_gives_the_same_frames_and_moves_only_the_start_networks(tiny_random_weights, monkeypatch):
    # Every frame far from the motion bank, tested from the first call: keyframes are added early, so the
    # reference UNet is borrowed mid-stream.
    monkeypatch.setattr(denoiser, "KEYFRAME_THRESHOLD", -1.0)
    monkeypatch.setattr(denoiser, "KEYFRAME_FIRST_CALL", 0)
    normal, _ = _stream(load_models(tiny_random_weights, "fp32", "cpu"))

    moves: list[tuple[str, str]] = []
    original_move = LowVram._move

    def recorded(self, models, name, to_compute):
        moves.append((name, "compute" if to_compute else "offload"))
        original_move(self, models, name, to_compute)

    monkeypatch.setattr(LowVram, "_move", recorded)
    # On this CPU-only machine both devices are the CPU, so the moves are checked by what was asked.
    models = load_models(tiny_random_weights, "fp32", "cpu", low_vram=True)
    assert isinstance(models.residency, LowVram)
    assert moves == [(name, "offload") for name in START_NETWORKS]  # parked right after loading
    moves.clear()
    low, keyframes_added = _stream(models)
    assert torch.equal(low, normal)  # bit-identical
    # The reference step borrows every start network once; each keyframe borrows the reference UNet only.
    reference_step = [(n, "compute") for n in START_NETWORKS] + [(n, "offload") for n in START_NETWORKS]
    assert moves[:len(reference_step)] == reference_step
    keyframes = moves[len(reference_step):]
    assert keyframes and keyframes == [("reference_unet", "compute"), ("reference_unet", "offload")] * (len(keyframes) // 2)
    assert len(keyframes) // 2 == keyframes_added >= 1
