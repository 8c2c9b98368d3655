"""The optional MediaPipe face-mesh boxes (the original's offline face crops): the legacy solution, the
Tasks face landmarker with Google's face_landmarker.task, and how far apart their boxes are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from personalive_core.demo_inputs import draw_face
from personalive_core.face_landmarker_file import MODEL_FILE, MODEL_URL, FaceLandmarkerModel
from personalive_core.face_mesh import FaceMeshUnavailable, FaceModelMissing, face_mesh_boxes
from personalive_core.video_io import square_frame

LEGACY_BOXES = Path(__file__).parent / "data" / "legacy_face_mesh_boxes.json"  # scripts/record_legacy_face_boxes.py

# Tasks vs legacy boxes of the same frames (45 drawn faces, 128-512 px, recorded with mediapipe 0.10.14;
# the Tasks boxes are the same with 0.10.14 and 1.2.3): IoU 0.902 at worst, 0.930 on average, corners at
# most 3.5% of the frame's side apart (the newer 478-point landmark model puts the chin and brow a little
# lower). The bounds leave room for other CPUs' arithmetic yet fail a wrong mesh: a bundle whose points
# are scrambled (the legacy face_landmark.tflite in a .task) scored IoU 0.52 and 24%.
MIN_IOU, MIN_MEAN_IOU, MAX_CORNER_SHIFT = 0.85, 0.90, 0.05  # the shift as a fraction of the side


def installed():
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (optional extra: pip install -U mediapipe)")
    from personalive_core.face_mesh import installed_backends

    return installed_backends()


def need(backend):
    if backend not in installed():
        pytest.skip(f"the installed mediapipe has no {backend} face mesh")


@pytest.fixture
def tasks_model(face_landmarker_folder) -> FaceLandmarkerModel:
    need("tasks")
    return FaceLandmarkerModel((face_landmarker_folder,))


def frames_of(specs) -> torch.Tensor:
    return torch.stack([square_frame(draw_face(s["size"], s["yaw"], s["mouth"], s["tilt"]), s["size"])
                        for s in specs])


def boxes_by_size(specs, **kwargs) -> list[list[int]]:
    """face_mesh_boxes of the recorded frames, one call per frame size."""
    out = []
    for size in sorted({s["size"] for s in specs}):
        out += face_mesh_boxes(frames_of([s for s in specs if s["size"] == size]), **kwargs).tolist()
    return out


def iou(a, b) -> float:
    inner = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return inner / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inner)


def assert_agree(specs, boxes, reference, what):
    shifts = [max(abs(p - q) for p, q in zip(b, r)) / s["size"] for s, b, r in zip(specs, boxes, reference)]
    ious = [iou(b, r) for b, r in zip(boxes, reference)]
    worst = min(range(len(ious)), key=ious.__getitem__)
    assert min(ious) >= MIN_IOU, f"{what}: IoU {ious[worst]:.3f} for {specs[worst]}"
    assert sum(ious) / len(ious) >= MIN_MEAN_IOU, f"{what}: mean IoU {sum(ious) / len(ious):.3f}"
    assert max(shifts) <= MAX_CORNER_SHIFT, f"{what}: a corner moved {max(shifts):.1%} of the side"


def recorded():
    data = json.loads(LEGACY_BOXES.read_text())
    return data["frames"], data["scale"]


def test_face_mesh_boxes_surround_the_face(face_mesh_ready):
    frames = torch.stack([square_frame(draw_face(256, yaw=y), 256) for y in (0.0, 0.8)])
    boxes = face_mesh_boxes(frames)
    assert boxes.shape == (2, 4) and boxes.dtype == torch.int64
    for x1, y1, x2, y2 in boxes.tolist():
        assert 0 <= x1 < 128 < x2 <= 255 and 0 <= y1 < 128 < y2 <= 255  # the drawn face is centred
    assert boxes[1, 0] > boxes[0, 0]  # the face turned right, its box moved right


def test_face_mesh_reports_frames_without_a_face(face_mesh_ready):
    blank = torch.full((1, 3, 128, 128), -1.0)
    with pytest.raises(Exception, match="no face in driving frame 0"):
        face_mesh_boxes(blank)


def test_a_reference_without_a_face_is_called_the_reference(face_mesh_ready, tmp_path):
    from personalive_core import api
    from personalive_core.tiny_weights import write_tiny_weights

    models = api.load_models(write_tiny_weights(tmp_path / "w"), "fp32", "cpu")
    face = ((square_frame(draw_face(64), 64).permute(1, 2, 0) + 1) / 2)[None]
    with pytest.raises(Exception, match="no face in the reference portrait"):
        api.extract_keypoints(models, torch.zeros_like(face), face.repeat(2, 1, 1, 1), "mediapipe", size=64)


def test_the_tasks_face_landmarker_boxes_the_drawn_faces(tasks_model):
    frames = torch.stack([square_frame(draw_face(256, yaw=y), 256) for y in (-0.8, 0.0, 0.8)])
    boxes = face_mesh_boxes(frames, model=tasks_model, backend="tasks")
    for x1, y1, x2, y2 in boxes.tolist():
        assert 0 <= x1 < 128 < x2 <= 255 and 0 <= y1 < 128 < y2 <= 255 and x2 - x1 > 150  # the whole face
    assert boxes[0, 0] < boxes[1, 0] < boxes[2, 0]  # the box follows the turn
    with pytest.raises(Exception, match="no face in the reference picture"):
        face_mesh_boxes(torch.full((1, 3, 128, 128), -1.0), what="the reference picture", model=tasks_model,
                        backend="tasks")


def test_tasks_boxes_agree_with_the_recorded_legacy_boxes(tasks_model):
    specs, scale = recorded()
    boxes = boxes_by_size(specs, scale=scale, model=tasks_model, backend="tasks")
    assert_agree(specs, boxes, [s["legacy"] for s in specs], "Tasks vs recorded legacy boxes")


def test_tasks_boxes_do_not_change_with_the_mediapipe_release(tasks_model):
    specs, scale = recorded()  # Tasks boxes recorded with the same model under mediapipe 0.10.14
    boxes = boxes_by_size(specs, scale=scale, model=tasks_model, backend="tasks")
    for spec, box in zip(specs, boxes):
        assert max(abs(p - q) for p, q in zip(box, spec["tasks"])) <= max(2, spec["size"] // 100), spec


def test_tasks_and_legacy_boxes_agree_live(tasks_model):
    need("legacy")
    specs, scale = recorded()
    legacy = boxes_by_size(specs, scale=scale, backend="legacy")
    tasks = boxes_by_size(specs, scale=scale, model=tasks_model, backend="tasks")
    assert_agree(specs, tasks, legacy, "Tasks vs legacy boxes, live")
    assert_agree(specs, legacy, [s["legacy"] for s in specs], "live legacy vs recorded legacy boxes")


def test_the_legacy_solution_is_preferred_where_installed():
    """Where both exist (0.10.11-0.10.21) the original's own detector runs, and no model file is needed."""
    need("legacy")
    from personalive_core.face_mesh import face_mesh_backend

    assert face_mesh_backend(FaceLandmarkerModel(("/nonexistent",))) == "legacy"


def test_a_missing_model_file_says_what_to_download_and_where(tmp_path, monkeypatch):
    model = FaceLandmarkerModel.under([tmp_path / "a", tmp_path / "b"], download_hint="turn on auto_download")
    assert model.folders == (tmp_path / "a" / "mediapipe", tmp_path / "b" / "mediapipe")
    message = model.problem()
    for part in (MODEL_FILE, str(model.folders[1]), MODEL_URL, str(model.folders[0] / MODEL_FILE),
                 "turn on auto_download", "'keypoints' face-crop method"):
        assert part in message
    with pytest.raises(FaceModelMissing) as raised:
        model.path()
    assert str(raised.value) == message and isinstance(raised.value, FaceMeshUnavailable)


def test_only_the_tasks_api_and_no_model_is_refused_before_work(tmp_path, monkeypatch):
    need("tasks")
    from personalive_core import face_mesh
    from personalive_core.checks import crop_method_problem

    monkeypatch.setattr(face_mesh, "_legacy_solution", lambda mp: None)  # as in mediapipe >= 0.10.30
    monkeypatch.setenv("PERSONALIVE_MEDIAPIPE_MODELS", str(tmp_path))
    assert f"save it as {tmp_path / MODEL_FILE}" in crop_method_problem("mediapipe")
    assert "PERSONALIVE_MEDIAPIPE_DOWNLOAD=1" in crop_method_problem("mediapipe")
    assert crop_method_problem("mediapipe", FaceLandmarkerModel((tmp_path,), allow_download=True)) is None
    with pytest.raises(FaceModelMissing, match=MODEL_URL.replace(".", r"\.")):
        face_mesh_boxes(torch.zeros(1, 3, 64, 64))
    from personalive_core import api

    image, elsewhere = torch.zeros(1, 64, 64, 3), FaceLandmarkerModel((tmp_path / "elsewhere",))
    with pytest.raises(FaceModelMissing, match=f"not in {tmp_path / 'elsewhere'}"):  # checked before the models run
        api.extract_keypoints(None, image, image, "mediapipe", 64, face_model=elsewhere)


def test_the_model_is_downloaded_where_allowed(face_landmarker_folder, tmp_path, monkeypatch):
    from personalive_core import face_landmarker_file

    monkeypatch.setattr(face_landmarker_file, "MODEL_URL", (face_landmarker_folder / MODEL_FILE).as_uri())
    model = FaceLandmarkerModel((tmp_path / "models",), allow_download=True)
    assert model.path() == tmp_path / "models" / MODEL_FILE
    assert model.path().read_bytes() == (face_landmarker_folder / MODEL_FILE).read_bytes()


def test_a_failed_or_damaged_download_says_what_to_do(tmp_path, monkeypatch):
    from personalive_core import face_landmarker_file

    target = tmp_path / "models"
    monkeypatch.setattr(face_landmarker_file, "MODEL_URL", (tmp_path / "nowhere.task").as_uri())
    with pytest.raises(FaceModelMissing, match=rf"Could not download .*save it as {target / MODEL_FILE}"):
        FaceLandmarkerModel((target,), allow_download=True).path()
    (tmp_path / "page.html").write_text("<html>quota exceeded</html>")
    monkeypatch.setattr(face_landmarker_file, "MODEL_URL", (tmp_path / "page.html").as_uri())
    with pytest.raises(FaceModelMissing, match="not the face-landmarker bundle"):
        FaceLandmarkerModel((target,), allow_download=True).path()
    assert not list(target.iterdir())  # nothing half-written is left to be taken for the model


def test_a_damaged_model_file_is_named(tmp_path):
    (tmp_path / MODEL_FILE).write_bytes(b"truncated")
    problem = FaceLandmarkerModel((tmp_path,)).problem()
    assert str(tmp_path / MODEL_FILE) in problem and "download it again" in problem


def test_missing_mediapipe_gives_an_actionable_message(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mediapipe(name, *args, **kwargs):
        if name.startswith("mediapipe"):
            raise ImportError("No module named 'mediapipe'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    with pytest.raises(FaceMeshUnavailable, match="needs the mediapipe package.*pip install -U mediapipe"):
        face_mesh_boxes(torch.zeros(1, 3, 64, 64))


def test_mediapipe_crop_method_feeds_the_motion_encoder(face_mesh_ready, tiny_models):
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
