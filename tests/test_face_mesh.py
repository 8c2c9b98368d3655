"""The optional MediaPipe face-mesh boxes (the original's offline face crops)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from personalive_core.demo_inputs import draw_face
from personalive_core.face_mesh import FaceMeshUnavailable, face_mesh_boxes
from personalive_core.video_io import square_frame

HAVE_MEDIAPIPE = importlib.util.find_spec("mediapipe") is not None


@pytest.mark.skipif(not HAVE_MEDIAPIPE, reason="mediapipe is not installed (optional extra: pip install "
                                               "'mediapipe>=0.10.11,<=0.10.21')")
def test_face_mesh_boxes_surround_the_face():
    frames = torch.stack([square_frame(draw_face(256, yaw=y), 256) for y in (0.0, 0.8)])
    boxes = face_mesh_boxes(frames)
    assert boxes.shape == (2, 4) and boxes.dtype == torch.int64
    for x1, y1, x2, y2 in boxes.tolist():
        assert 0 <= x1 < 128 < x2 <= 255 and 0 <= y1 < 128 < y2 <= 255  # the drawn face is centred
    assert boxes[1, 0] > boxes[0, 0]  # the face turned right, its box moved right


@pytest.mark.skipif(not HAVE_MEDIAPIPE, reason="mediapipe is not installed")
def test_face_mesh_reports_frames_without_a_face():
    blank = torch.full((1, 3, 128, 128), -1.0)
    with pytest.raises(Exception, match="no face in driving frame 0"):
        face_mesh_boxes(blank)


@pytest.mark.skipif(not HAVE_MEDIAPIPE, reason="mediapipe is not installed")
def test_a_reference_without_a_face_is_called_the_reference(tmp_path):
    from personalive_core import api
    from personalive_core.tiny_weights import write_tiny_weights

    models = api.load_models(write_tiny_weights(tmp_path / "w"), "fp32", "cpu")
    face = ((square_frame(draw_face(64), 64).permute(1, 2, 0) + 1) / 2)[None]
    with pytest.raises(Exception, match="no face in the reference portrait"):
        api.extract_keypoints(models, torch.zeros_like(face), face.repeat(2, 1, 1, 1), "mediapipe", size=64)


def test_missing_mediapipe_gives_an_actionable_message(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mediapipe(name, *args, **kwargs):
        if name.startswith("mediapipe"):
            raise ImportError("No module named 'mediapipe'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    with pytest.raises(FaceMeshUnavailable, match="pip install 'mediapipe>=0.10.11,<=0.10.21'"):
        face_mesh_boxes(torch.zeros(1, 3, 64, 64))


@pytest.mark.skipif(not HAVE_MEDIAPIPE, reason="mediapipe is not installed")
def test_mediapipe_crop_method_feeds_the_motion_encoder(tiny_models):
    from personalive_core import api

    def image(yaw):
        return (square_frame(draw_face(128, yaw=yaw), 128).permute(1, 2, 0)[None] + 1) / 2

    reference, driving = image(0.0), torch.cat([image(y) for y in (0.0, 0.4, 0.8)])
    kps = api.extract_keypoints(tiny_models, reference, driving, crop_method="mediapipe", size=128)
    assert kps.crop_method == "mediapipe" and kps.boxes.shape == (3, 4)
    assert torch.equal(kps.boxes, face_mesh_boxes(torch.stack([square_frame(draw_face(128, yaw=y), 128)
                                                               for y in (0.0, 0.4, 0.8)])))
    assert kps.chunks[0].reference_box.tolist() == face_mesh_boxes(square_frame(draw_face(128), 128)[None]).tolist()
    motion = api.encode_motion(tiny_models, reference, driving, kps)
    assert motion.tokens.shape[1:] == (32, 16) and torch.isfinite(motion.tokens).all()
