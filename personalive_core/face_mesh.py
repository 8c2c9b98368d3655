"""Optional MediaPipe face-mesh face boxes (the original's offline mode), detected at run time.

Two back ends give the boxes: the legacy face-mesh solution, where the installed mediapipe still has it
(<= 0.10.21: the original's own detector, so chosen first), else the Tasks face landmarker of every current
release, which needs the model file face_landmarker.task (see `face_landmarker_file`).
"""

from __future__ import annotations

from contextlib import closing

import torch

from .errors import FaceMeshUnavailable, InputError
from .face_landmarker_file import MODEL_FILE, FaceLandmarkerModel, FaceModelMissing, default_model
from .face_mesh_detectors import LegacyFaceMesh, TasksFaceMesh

__all__ = ["BACKENDS", "FaceMeshUnavailable", "FaceModelMissing", "face_mesh_backend", "face_mesh_boxes",
           "installed_backends", "square_box"]

BACKENDS = ("legacy", "tasks")
MEDIAPIPE_HINT = (
    f"Install it with: pip install -U mediapipe (current releases also need the model file {MODEL_FILE}), or "
    "choose the 'keypoints' face-crop method, which needs nothing extra."
)


def _mediapipe():
    try:
        import mediapipe as mp
    except ImportError as exc:
        raise FaceMeshUnavailable(
            f"crop_method 'mediapipe' needs the mediapipe package, which is not installed. {MEDIAPIPE_HINT}"
        ) from exc
    except Exception as exc:  # a broken install raises all sorts of errors at import (protobuf, ...)
        raise FaceMeshUnavailable(
            f"crop_method 'mediapipe': the installed mediapipe fails to import ({type(exc).__name__}: {exc}). "
            f"{MEDIAPIPE_HINT}"
        ) from exc
    return mp


def _legacy_solution(mp):
    """The legacy face-mesh solution module, or None (removed after 0.10.21)."""
    try:
        from mediapipe.python.solutions import face_mesh
    except Exception:
        face_mesh = getattr(getattr(mp, "solutions", None), "face_mesh", None)
    return face_mesh


def _has_tasks(mp) -> bool:
    if getattr(mp, "tasks", None) is None:
        return False
    try:
        from mediapipe.tasks.python import vision
    except Exception:
        return False
    return hasattr(vision, "FaceLandmarker")


def installed_backends() -> tuple[str, ...]:
    """The face-mesh back ends the installed mediapipe has, in order of preference; `FaceMeshUnavailable`
    when mediapipe is missing or broken."""
    mp = _mediapipe()
    return tuple(name for name, have in (("legacy", _legacy_solution(mp) is not None), ("tasks", _has_tasks(mp)))
                 if have)


def face_mesh_backend(model: FaceLandmarkerModel | None = None, backend: str | None = None) -> str:
    """The back end that will run, 'legacy' or 'tasks' (None: legacy where installed), or
    `FaceMeshUnavailable` saying what to install or where the model file goes. Cheap: run it before work."""
    if backend not in (None, *BACKENDS):
        raise ValueError(f"unknown face-mesh backend {backend!r}; use one of {BACKENDS}")
    have = installed_backends()
    version = getattr(_mediapipe(), "__version__", "?")
    if backend is None and not have:
        raise FaceMeshUnavailable(f"crop_method 'mediapipe': mediapipe {version} has no face mesh (neither the "
                                  f"legacy solution nor the Tasks face landmarker). {MEDIAPIPE_HINT}")
    backend = backend or have[0]
    if backend not in have:
        raise FaceMeshUnavailable(f"mediapipe {version} has no {backend} face mesh. {MEDIAPIPE_HINT}")
    if backend == "tasks":
        problem = (model or default_model()).problem()
        if problem:
            raise FaceModelMissing(problem)
    return backend


def _open(backend: str, model: FaceLandmarkerModel | None):
    if backend == "tasks":
        path = (model or default_model()).path()  # may download; raises FaceModelMissing
    try:
        return LegacyFaceMesh(_legacy_solution(_mediapipe())) if backend == "legacy" else TasksFaceMesh(path)
    except Exception as exc:  # e.g. an incompatible protobuf, or a model file of another task
        raise FaceMeshUnavailable(f"MediaPipe's {backend} face mesh is installed but fails to start "
                                  f"({type(exc).__name__}: {exc}). {MEDIAPIPE_HINT}") from exc


def square_box(points, width: int, height: int, scale: float) -> list[int]:
    """[x1,y1,x2,y2]: the bounding box of normalised `points` in pixels grown to a square `scale` times its
    longer side, clamped to the image."""
    xs = [int(x * width) for x, _ in points]
    ys = [int(y * height) for _, y in points]
    x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
    side = max(x2 - x1, y2 - y1) * scale
    cx, cy = (x1 + x2) * 0.5, (y1 + y2) * 0.5
    box = [max(0, cx - side / 2), max(0, cy - side / 2), min(width - 1, cx + side / 2), min(height - 1, cy + side / 2)]
    return [int(v) for v in box]


def face_mesh_boxes(frames: torch.Tensor, scale: float = 1.1, what: str = "driving frame {i}", *,
                    model: FaceLandmarkerModel | None = None, backend: str | None = None) -> torch.Tensor:
    """Boxes (N,4) [x1,y1,x2,y2] of the face in frames (N,3,H,W) in [-1,1]: the landmarks' bounding box
    grown to a square `scale` times its longer side, clamped to the image. `what` names frame i in errors.
    `model`: where the Tasks back end finds face_landmarker.task (None: `default_model()`); `backend`:
    'legacy' or 'tasks' (None: legacy where installed)."""
    backend = face_mesh_backend(model, backend)
    boxes = []
    with closing(_open(backend, model)) as mesh:
        for i, frame in enumerate(frames):
            rgb = ((frame.float().permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
            points = mesh.landmarks(rgb)
            if points is None:
                raise InputError(f"MediaPipe found no face in {what.format(i=i)}. Use images with a visible face, "
                                 "or the 'keypoints' face-crop method.")
            boxes.append(square_box(points, rgb.shape[1], rgb.shape[0], scale))
    return torch.tensor(boxes, dtype=torch.int64)
