"""Motion controls: pose and expression strength, relative motion and smoothing act on the
conditioning as documented; the defaults leave the exact path untouched; state survives a save."""

from __future__ import annotations

import io

import pytest
import torch

from personalive_core.errors import InputError
from personalive_core.keypoints import rotation_matrix, transform_keypoints
from personalive_core.motion_controls import (MotionControls, PoseControl, euler_degrees, head_rotation,
                                              rotation_power)
from personalive_core.streaming import SeededNoise, StreamSession
from personalive_core.streaming.conditioning import Conditioner


def _conditioned(models, reference, frames, controls):
    conditioner = Conditioner(models, reference, controls)
    return [conditioner(frames[i:i + 4]) for i in range(0, len(frames), 4)]


def _angle_between(a, b):
    cos = (((a.transpose(1, 2) @ b).diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1)
    return torch.acos(cos)


def test_rotation_maths():
    pitch, yaw, roll = torch.tensor([[10.0], [-25.0]]), torch.tensor([[30.0], [4.0]]), torch.tensor([[-7.0], [15.0]])
    rotation = rotation_matrix(pitch, yaw, roll)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(euler_degrees(rotation), (pitch, yaw, roll)))
    half = rotation_power(rotation, 0.5)
    assert torch.allclose(half @ half, rotation, atol=1e-6)
    assert torch.allclose(rotation_power(rotation, 0.0), torch.eye(3).expand(2, 3, 3), atol=1e-6)


def test_the_defaults_build_no_control():
    controls = MotionControls()
    assert not controls.moves_pose and not controls.moves_expression


@pytest.mark.parametrize("bad, message", [
    (dict(pose_strength=2.5), "pose_strength must be between 0 and 2"),
    (dict(expression_strength=-1), "expression_strength must be between 0 and 2"),
    (dict(mode="sideways"), "motion mode must be one of absolute, relative"),
    (dict(smoothing=1.5), "smoothing must be between 0"),
])
def test_out_of_range_controls_are_refused(bad, message):
    with pytest.raises(InputError, match=message):
        MotionControls(**bad)


def test_zero_strengths_keep_the_reference(tiny_models, reference, driving):
    chunks = _conditioned(tiny_models, reference, driving[:8], MotionControls(0.0, 0.0))
    ref_pose = transform_keypoints(chunks[0].keypoints.detections["reference"])
    ref_tokens = chunks[0].motion.reference
    for chunk in chunks:  # every frame's pose keypoints and motion tokens are the reference's
        assert torch.allclose(chunk.keypoints.pose, ref_pose.expand_as(chunk.keypoints.pose), atol=1e-4)
        assert torch.allclose(chunk.motion.tokens, ref_tokens.expand_as(chunk.motion.tokens), atol=1e-6)


def test_half_pose_strength_turns_the_head_half_way(tiny_models, reference, driving):
    chunk = _conditioned(tiny_models, reference, driving[:4], MotionControls())[0]
    ref_det, det = chunk.keypoints.detections["reference"], chunk.keypoints.detections["chunk"]
    anchor = {name: value[0:1] for name, value in det.items()}
    ref_rotation = head_rotation(ref_det)
    whole = _angle_between(ref_rotation, head_rotation(det))
    halfway = _angle_between(ref_rotation, head_rotation(PoseControl(MotionControls(pose_strength=0.5), ref_det)(det, anchor)))
    assert whole.min() > 0.01 and torch.allclose(halfway, whole / 2, atol=1e-3)  # geodesic, not per-angle


def test_relative_mode_starts_from_the_reference(tiny_models, reference, driving):
    chunks = _conditioned(tiny_models, reference, driving[:8], MotionControls(mode="relative"))
    first = chunks[0]
    ref_pose = transform_keypoints(first.keypoints.detections["reference"])
    assert torch.allclose(first.keypoints.pose[0], ref_pose[0], atol=1e-3)  # frame 0 is neutral: no tilt
    assert torch.allclose(first.motion.tokens[:, 0], first.motion.reference[:, 0], atol=1e-6)
    absolute = _conditioned(tiny_models, reference, driving[:8], MotionControls())
    assert not torch.allclose(absolute[0].keypoints.pose[0], ref_pose[0], atol=1e-3)  # the test can fail


def _jitter(chunks):
    pose = torch.cat([c.keypoints.pose for c in chunks])
    return (pose[2:] - 2 * pose[1:-1] + pose[:-2]).abs().mean()


def test_smoothing_reduces_jitter_and_is_causal(tiny_models, reference, driving):
    raw = _conditioned(tiny_models, reference, driving[:8], MotionControls())
    smooth = _conditioned(tiny_models, reference, driving[:8], MotionControls(smoothing=0.8))
    assert _jitter(smooth) < 0.5 * _jitter(raw)
    shorter = _conditioned(tiny_models, reference, driving[:4], MotionControls(smoothing=0.8))
    assert all(torch.equal(a.keypoints.pose, b.keypoints.pose) for a, b in zip(shorter, smooth))  # no look-ahead


def test_controlled_state_saved_mid_stream_continues_bit_identically(tiny_models, reference, driving):
    controls = MotionControls(pose_strength=0.7, expression_strength=1.3, mode="relative", smoothing=0.5)

    def session():
        return StreamSession(tiny_models, reference, SeededNoise(4), controls=controls)

    whole = session()
    expected = torch.cat([c.latents for c in whole.push_frames(driving[:14]) + whole.finish()])
    first = session()
    before = [c.latents for c in first.push_frames(driving[:6])]
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    second = session()
    second.load_state_dict(torch.load(buffer, weights_only=True))
    after = [c.latents for c in second.push_frames(driving[6:14]) + second.finish()]
    assert torch.equal(torch.cat(before + after), expected)
