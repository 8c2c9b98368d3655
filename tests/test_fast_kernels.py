"""`kernels`: 'fast' linear layers (contiguous inputs, oneDNN on the CPU) give the reference kernels' results
within rounding, 'reference' keeps PyTorch's `nn.Linear` everywhere, and the keypoint detector always keeps it."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from personalive_core.animate import Animation
from personalive_core.demo_inputs import draw_face
from personalive_core.loading import REFERENCE_KERNEL_NETWORKS, load_models
from personalive_core.models.fast_linear import FastLinear, onednn_linear_available, use_kernels
from personalive_core.video_io import square_frame

SIZE = 64
FRAMES = 8


def _layers(dtype: torch.dtype, bias: bool) -> tuple[nn.Linear, FastLinear]:
    torch.manual_seed(0)
    plain = nn.Linear(96, 160, bias=bias).to(dtype)
    fast = use_kernels(nn.Sequential(nn.Linear(96, 160, bias=bias).to(dtype)), "fast")[0]
    fast.load_state_dict(plain.state_dict())
    return plain, fast


def _inputs(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    x = torch.randn(2, 16, 24, 96).to(dtype)
    # the temporal module's layout: (pixels, frames, channels) as a permuted view of a (frames, pixels, ...) tensor
    return {"2-D": x[0, 0], "3-D": x[0], "permuted view": x.permute(1, 0, 2, 3).reshape(16, 48, 96).transpose(0, 1)}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-5), (torch.bfloat16, 1e-2)])
def test_fast_linear_matches_nn_linear(dtype, tolerance, bias):
    """Within float rounding of the products (bf16: its 8-bit mantissa), on every input layout."""
    plain, fast = _layers(dtype, bias)
    with torch.no_grad():
        for name, x in _inputs(dtype).items():
            expected, got = plain(x).float(), fast(x).float()
            assert got.shape == expected.shape, name
            error = (got - expected).abs().max().item() / expected.abs().max().item()
            assert error <= tolerance, f"{name}: relative error {error:.2e}"


@pytest.mark.skipif(not onednn_linear_available(), reason="this PyTorch build has no oneDNN linear operator")
def test_fast_linear_runs_onednn_on_the_cpu_and_keeps_autograd():
    _, fast = _layers(torch.float32, True)
    x = torch.randn(8, 96)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as run:
        fast(x)
    assert any("_linear_pointwise" in event.name for event in run.events())
    # with gradients wanted it falls back to F.linear, which autograd can differentiate
    x.requires_grad_(True)
    fast(x).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_use_kernels_swaps_only_the_class():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2)))
    state = model.state_dict()
    use_kernels(model, "fast")
    assert [type(m) for m in model.modules() if isinstance(m, nn.Linear)] == [FastLinear, FastLinear]
    assert all(model.state_dict()[k] is v or torch.equal(model.state_dict()[k], v) for k, v in state.items())
    use_kernels(model, "reference")
    assert [type(m) for m in model.modules() if isinstance(m, nn.Linear)] == [nn.Linear, nn.Linear]
    with pytest.raises(ValueError, match="unknown kernels"):
        use_kernels(model, "turbo")


def _stream(models) -> torch.Tensor:
    driving = [square_frame(draw_face(SIZE, yaw=(i % 5) / 5, mouth=(i % 3) / 3), SIZE) for i in range(FRAMES)]
    animation = Animation(models, draw_face(SIZE), size=SIZE, seed=3)
    return torch.cat([f for frame in driving for f in animation.feed(frame)] + list(animation.finish()))


def _linear_classes(models) -> dict[str, set[type]]:
    return {name: {type(m) for m in net.modules() if isinstance(m, nn.Linear)} for name, net in models.modules().items()}


def test_load_models_kernels(tiny_random_weights):
    """fast: every network but the keypoint detector on `FastLinear`; reference: `nn.Linear` only. The frames
    agree within the replay-golden gate for output frames (abs 1e-3 on [0, 1])."""
    fast_models = load_models(tiny_random_weights, "fp32", "cpu")
    reference_models = load_models(tiny_random_weights, "fp32", "cpu", kernels="reference")
    for name, classes in _linear_classes(fast_models).items():  # (the pose guider has no linear layer)
        assert classes <= ({nn.Linear} if name in REFERENCE_KERNEL_NETWORKS else {FastLinear}), name
    assert _linear_classes(fast_models)["denoising_unet"] == {FastLinear}
    assert _linear_classes(fast_models)["motion_extractor"] == {nn.Linear}
    assert all(classes <= {nn.Linear} for classes in _linear_classes(reference_models).values())
    fast, reference = _stream(fast_models), _stream(reference_models)
    assert fast.shape == reference.shape == (FRAMES, SIZE, SIZE, 3)
    assert (fast - reference).abs().max().item() <= 1e-3
    with pytest.raises(ValueError, match="kernels must be one of"):
        load_models(tiny_random_weights, "fp32", "cpu", kernels="turbo")


def test_fast_linears_compile_with_inductor():
    """Inductor lowers oneDNN's linear only for frozen weights, so compiled graphs trace `F.linear` instead."""
    _, fast = _layers(torch.float32, True)
    x = torch.randn(3, 10, 96).transpose(0, 1)
    with torch.no_grad():
        expected = fast(x)
        torch._dynamo.reset()
        try:
            compiled = torch.compile(fast, backend="inductor", dynamic=False)(x)
        finally:
            torch._dynamo.reset()
    torch.testing.assert_close(compiled, expected, atol=1e-5, rtol=1e-5)
