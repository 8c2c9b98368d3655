"""Golden parity of the motion extractor (keypoint detector) and the motion encoder (motion tokens).

Each network is fed the inputs the original code recorded. Tolerance: relative max error (max abs error /
max abs recorded value) <= 1e-5 per tensor. Run with `-s` to see the achieved errors.

The head-pose logits and the translation of the tiny fixture are a special case: the fixture calibrated
their biases to cancel the mean `W @ feature`, so these outputs are small differences of large sums and
amplify the fp32 rounding of the backbone ~20x. The original's own recorded values are ~1e-5 (relative)
away from an exact float64 evaluation (`test_detector_heads_rounding_floor`), so no fp32 implementation
can meet 1e-5 on them without reproducing the recording machine's kernels bit for bit. These four are
therefore held to `DETECTOR_HEAD_TOL` (5e-5, shared with `replay-golden`); everything else
is held to 1e-5.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from personalive_core.errors import WeightsError
from personalive_core.parity import compare_tensors, format_table
from personalive_core.parity.replay import DETECTOR_HEAD_TOL
from personalive_core.models import load_network
from personalive_core.models.convnextv2 import Fp32LayerNorm
from personalive_core.weights import load_state_dict_file

REL_TOL = 1e-5
ROUNDING_AMPLIFIED = ("pitch", "yaw", "roll", "t")
DETECTOR_KEYS = ("kp", "pitch", "yaw", "roll", "t", "scale")
FULL_CALLS = ("call_00", "call_01", "call_09", "call_15")  # calls that keep their large tensors
DETECTOR_CASES = ("reference", "frame0_alone", "call_00", "call_01", "call_09", "call_15")


@pytest.fixture(scope="module")
def extractor(tiny_weights):
    model, report = load_network("motion_extractor", tiny_weights)
    assert report.ok, report.summary()
    return model


@pytest.fixture(scope="module")
def encoder(tiny_weights):
    model, report = load_network("motion_encoder", tiny_weights)
    assert report.ok, report.summary()
    return model


def _keypoint_input(frames: torch.Tensor) -> torch.Tensor:
    """Driving frames in [-1,1] -> detector input, as the original resizes them."""
    return F.interpolate(frames, size=(256, 256), mode="bilinear", align_corners=False) / 2 + 0.5


def _detector_case(golden, case: str) -> tuple[torch.Tensor, dict]:
    """(detector input, recorded detector outputs) of one recorded detector run."""
    if case == "reference":
        return golden.load("fuse_reference")["state.ref_cond_tensor"], golden.load("call_00")["detector_out"]
    if case == "frame0_alone":
        call = golden.load("call_00")
        return _keypoint_input(call["images_in"][0:1]), call["detector_out#1"]
    call = golden.load(case)
    recorded = call["detector_out#2"] if case == "call_00" else call["detector_out"]  # call 0: the batch of 4
    return _keypoint_input(call["images_in"]), recorded


@pytest.mark.parametrize("case", DETECTOR_CASES)
def test_detector_outputs(golden, extractor, case):
    x, recorded = _detector_case(golden, case)
    with torch.no_grad():
        out = extractor(x)
    assert set(out) == set(DETECTOR_KEYS)
    results = [
        compare_tensors(f"{case} detector {k}", out[k], recorded[k], DETECTOR_HEAD_TOL if k in ROUNDING_AMPLIFIED else REL_TOL)
        for k in DETECTOR_KEYS
    ]
    print("\n" + format_table(results))
    failures = [r.line() for r in results if not r.ok]
    assert not failures, failures


def test_detector_heads_rounding_floor(golden, extractor):
    """Why the calibrated heads get DETECTOR_HEAD_TOL: measured against an exact (float64) evaluation of
    the same weights, the recorded values are as far off as ours, and more than 1e-5 for at least one head."""
    x, recorded = _detector_case(golden, "frame0_alone")
    with torch.no_grad():
        ours = extractor(x)
        exact = copy.deepcopy(extractor).double()(x.double())
    floor = 0.0
    for key in ROUNDING_AMPLIFIED:
        scale = exact[key].abs().max().item()
        theirs_err = (recorded[key].double() - exact[key]).abs().max().item() / scale
        ours_err = (ours[key].double() - exact[key]).abs().max().item() / scale
        print(f"\n{key:<6} recorded vs float64 {theirs_err:.2e}   ours vs float64 {ours_err:.2e}", end="")
        assert ours_err <= 2 * theirs_err + 1e-6
        floor = max(floor, theirs_err)
    print()
    assert floor > REL_TOL


@pytest.mark.parametrize("call", FULL_CALLS)
def test_motion_tokens(golden, encoder, call):
    recorded = golden.load(call)
    faces = recorded["motion_encoder.in(face_crops)"]  # (1, 3, F, 224, 224), reference first on call 0
    frames = faces.permute(0, 2, 1, 3, 4).reshape(-1, faces.shape[1], *faces.shape[-2:])  # (F, 3, 224, 224)
    with torch.no_grad():
        tokens = encoder(frames)
    result = compare_tensors(f"{call} motion tokens", tokens.unsqueeze(0), recorded["motion_encoder.out"], REL_TOL)
    print("\n" + result.line())
    assert result.ok, result.line()


def test_half_cast_keeps_layernorms_fp32(tiny_weights):
    path = tiny_weights / "personalive" / "motion_extractor.pth"
    model, report = load_network("motion_extractor", tiny_weights, dtype=torch.float16)
    assert report.ok, report.summary()
    state = torch.load(path, map_location="cpu", weights_only=True)
    norms = {name: m for name, m in model.named_modules() if isinstance(m, Fp32LayerNorm)}
    assert len(norms) == 4 + 18  # stem + 3 downsamples, one per block
    for name, norm in norms.items():
        assert norm.weight.dtype == norm.bias.dtype == torch.float32, name
        assert torch.equal(norm.weight, state[f"{name}.weight"])  # loaded without a round trip through fp16
    assert model.detector.norm.weight.dtype == torch.float16  # the final nn.LayerNorm follows the cast
    assert model.detector.fc_kp.weight.dtype == torch.float16
    model.to(torch.bfloat16)
    for name, norm in norms.items():
        assert norm.weight.dtype == torch.float32 and torch.equal(norm.weight, state[f"{name}.weight"]), name
    assert model.detector.norm.weight.dtype == torch.bfloat16


def test_bfloat16_forward(tiny_weights):
    model, _ = load_network("motion_extractor", tiny_weights, dtype=torch.bfloat16)
    x = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(x)
    shapes = {"kp": (2, 63), "pitch": (2, 66), "yaw": (2, 66), "roll": (2, 66), "t": (2, 3), "scale": (2, 1)}
    assert {k: tuple(v.shape) for k, v in out.items()} == shapes
    assert all(v.dtype == torch.bfloat16 and torch.isfinite(v).all() for v in out.values())


def _extractor_root(root, state: dict):
    """A weights folder holding only `state` as the motion extractor's file."""
    (root / "personalive").mkdir(parents=True, exist_ok=True)
    save_file(state, root / "personalive" / "motion_extractor.safetensors")
    return root


def test_extractor_load_tolerates_only_idx_and_fc_exp(tiny_weights, tmp_path):
    state = load_state_dict_file(tiny_weights / "personalive" / "motion_extractor.pth")
    for key in ("idx_tensor", "detector.fc_exp.weight", "detector.fc_exp.bias"):
        del state[key]
    model, report = load_network("motion_extractor", _extractor_root(tmp_path / "partial", state))
    assert report.ok
    assert sorted(report.tolerated_missing) == ["detector.fc_exp.bias", "detector.fc_exp.weight", "idx_tensor"]
    assert torch.equal(model.idx_tensor, torch.arange(66, dtype=torch.float32))
    assert not any(t.is_meta for t in model.state_dict().values())
    assert not model.detector.fc_exp.weight.any()

    del state["detector.norm.weight"]
    with pytest.raises(WeightsError, match="detector.norm.weight"):
        load_network("motion_extractor", _extractor_root(tmp_path / "broken", state))
