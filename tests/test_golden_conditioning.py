"""Golden parity of the keypoint maths, pose maps, face boxes, face crops and PoseGuider.

Each stage is fed the inputs the original code recorded, so a deviation is pinned to one stage.
Tolerance: relative max error <= 1e-5 for float stages; integer boxes and pose maps exact.
"""

from __future__ import annotations

import pytest
import torch

from personalive_core.face_crop import crop_faces, face_boxes
from personalive_core.parity import compare_exact, compare_tensors
from personalive_core.keypoints import lead_in_pose_keypoints, pose_keypoints, transform_keypoints
from personalive_core.pose_map import render_pose_maps

REL_TOL = 1e-5
FULL_CALLS = ("call_00", "call_01", "call_09", "call_15")  # calls that keep their large tensors


def _check(result):
    print(result.line())
    assert result.ok, result.line()


def _size(golden) -> int:
    return golden.load("fuse_reference")["state.ref_image_tensor"].shape[-1]


def test_lead_in_keypoints(golden):
    c0 = golden.load("call_00")
    ref, first, chunk = c0["detector_out"], c0["detector_out#1"], c0["detector_out#2"]
    expected_mot, _, _, expected_dri = c0["interpolate_kps_online"]
    _check(compare_tensors("call_00 lead-in pose keypoints", lead_in_pose_keypoints(ref, chunk), expected_mot, REL_TOL))
    _check(compare_tensors("call_00 driver keypoints", transform_keypoints(chunk), expected_dri, REL_TOL))
    assert torch.equal(c0["state.kps_frame1"]["t"], first["t"])


@pytest.mark.parametrize("call", [f"call_{c:02d}" for c in range(1, 16)])
def test_later_call_keypoints(golden, call):
    c0, rec = golden.load("call_00"), golden.load(call)
    det = rec["detector_out"]
    expected_pose, expected_dri = rec["get_kps"]
    got = pose_keypoints(det, c0["state.kps_ref"], c0["state.kps_frame1"]["t"])
    _check(compare_tensors(f"{call} pose keypoints", got, expected_pose, REL_TOL))
    _check(compare_tensors(f"{call} driver keypoints", transform_keypoints(det), expected_dri, REL_TOL))


@pytest.mark.parametrize("call", [f"call_{c:02d}" for c in range(16)])
def test_face_boxes_exact(golden, call):
    rec, size = golden.load(call), _size(golden)
    _check(compare_exact(f"{call} boxes", face_boxes(rec["get_boxes.in"], size, size), rec["boxes"]))
    if "boxes#1" in rec:
        _check(compare_exact(f"{call} reference box", face_boxes(rec["get_boxes.in#1"], size, size), rec["boxes#1"]))


@pytest.mark.parametrize("call", FULL_CALLS)
def test_pose_maps_exact(golden, call):
    rec, size = golden.load(call), _size(golden)
    _check(compare_exact(f"{call} pose maps", render_pose_maps(rec["draw_keypoints.in"], size, size), rec["pose_maps"]))


@pytest.mark.parametrize("call", FULL_CALLS)
def test_face_crops(golden, call):
    rec = golden.load(call)
    crops = crop_faces(rec["images_in"], rec["boxes"])
    if call == "call_00":
        ref = golden.load("fuse_reference")["state.ref_image_tensor"][None]
        crops = torch.cat([crop_faces(ref, rec["boxes#1"]), crops])
    expected = rec["motion_encoder.in(face_crops)"][0].transpose(0, 1)
    _check(compare_tensors(f"{call} face crops", crops, expected, REL_TOL))


@pytest.mark.parametrize("call", FULL_CALLS)
def test_pose_guider(golden, tiny_weights, call):
    from personalive_core.models import load_network

    guider, report = load_network("pose_guider", tiny_weights)
    assert report.ok and report.loaded == 16
    rec = golden.load(call)
    with torch.no_grad():
        got = guider(rec["pose_maps"]).transpose(0, 1)[None]
    _check(compare_tensors(f"{call} pose guider features", got, rec["pose_guider.out"], REL_TOL))
