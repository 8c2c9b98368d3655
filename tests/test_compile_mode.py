"""The `compile` speed mode: torch.compile of the per-window networks gives the eager frames within rounding."""

from __future__ import annotations

import torch

from personalive_core.animate import Animation
from personalive_core.compiled import STREAM_NETWORKS, compile_for_streaming, is_compiled, uncompile
from personalive_core.demo_inputs import draw_face
from personalive_core.loading import load_models
from personalive_core.video_io import square_frame

SIZE = 64


def _frames(animation: Animation) -> torch.Tensor:
    driving = [square_frame(draw_face(SIZE, yaw=i / 6, mouth=i / 6), SIZE) for i in range(6)]
    out = [frames for frame in driving for frames in animation.feed(frame)]
    return torch.cat(out + list(animation.finish()))


def test_compiled_networks_give_the_eager_frames(tiny_random_weights):
    """Graph capture of every per-window network (UNet, motion networks, pose guider, decoder) through a
    whole stream. The 'aot_eager' backend captures and runs the same graphs as the default 'inductor'
    without generating C++ (4 minutes on 2 cores for these networks); bench/speed.py times inductor."""
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    models = load_models(tiny_random_weights, "fp32", "cpu")
    eager = _frames(Animation(models, draw_face(SIZE), size=SIZE, seed=3, decoder="taesd"))
    animation = Animation(models, draw_face(SIZE), size=SIZE, seed=3, decoder="taesd")
    networks = [getattr(models, name) for name in STREAM_NETWORKS] + [animation.decoder.decoder]
    compile_for_streaming(models, animation.decoder, backend="aot_eager")
    try:
        assert all(is_compiled(network) for network in networks)
        compiled = _frames(animation)
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= len(networks)  # the graphs really ran
    finally:
        for network in networks:
            uncompile(network)
        torch._dynamo.reset()
    assert not any(is_compiled(network) for network in networks)
    assert compiled.shape == eager.shape == (6, SIZE, SIZE, 3)
    # Traced graphs may reorder float work: the frames (in [0, 1]) must stay within the replay-golden frame
    # tolerance (1e-3 absolute) of the eager ones.
    difference = (compiled - eager).abs().max().item()
    print(f"max abs difference compiled vs eager: {difference:.2e}")
    assert difference <= 1e-3
