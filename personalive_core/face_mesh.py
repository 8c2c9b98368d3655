"""Optional MediaPipe face-mesh face boxes (the original's offline mode), detected at run time.

Needs mediapipe 0.10.11-0.10.21 (Python <= 3.12), the last releases whose wheels ship the legacy
face-mesh model: `pip install 'mediapipe>=0.10.11,<=0.10.21'`.
"""

from __future__ import annotations

import numpy as np
import torch

from .errors import InputError, PersonaLiveError

MEDIAPIPE_HINT = (
    "Install it with: pip install 'mediapipe>=0.10.11,<=0.10.21' (Python 3.12 or older), or choose the "
    "'keypoints' face-crop method, which needs nothing extra."
)


class FaceMeshUnavailable(PersonaLiveError):
    """MediaPipe's legacy face mesh cannot be used in this environment."""


def face_mesh_module():
    """MediaPipe's legacy face-mesh solution module, or `FaceMeshUnavailable` saying what to install.

    The one availability probe of the package: cheap, so callers run it before any heavy work."""
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
    try:
        from mediapipe.python.solutions import face_mesh  # legacy API, removed after 0.10.21
    except Exception as exc:
        face_mesh = getattr(getattr(mp, "solutions", None), "face_mesh", None)
        if face_mesh is None:
            raise FaceMeshUnavailable(
                f"crop_method 'mediapipe': mediapipe {getattr(mp, '__version__', '?')} has no face mesh solution "
                f"(releases after 0.10.21 dropped it). {MEDIAPIPE_HINT}"
            ) from exc
    return face_mesh


def _face_mesh():
    module = face_mesh_module()
    try:
        return module.FaceMesh(static_image_mode=True, max_num_faces=1)
    except Exception as exc:  # e.g. an incompatible protobuf only fails here
        raise FaceMeshUnavailable(f"MediaPipe face mesh is installed but broken ({exc}). {MEDIAPIPE_HINT}") from exc


def face_mesh_boxes(frames: torch.Tensor, scale: float = 1.1, what: str = "driving frame {i}") -> torch.Tensor:
    """Boxes (N,4) [x1,y1,x2,y2] of the face in frames (N,3,H,W) in [-1,1]: the landmarks' bounding box
    grown to a square `scale` times its longer side, clamped to the image. `what` names frame i in errors."""
    mesh = _face_mesh()
    boxes = []
    with mesh:
        for i, frame in enumerate(frames):
            rgb = ((frame.float().permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
            h, w = rgb.shape[:2]
            found = mesh.process(np.ascontiguousarray(rgb)).multi_face_landmarks
            if not found:
                raise InputError(f"MediaPipe found no face in {what.format(i=i)}. Use images with a visible face, "
                                 "or the 'keypoints' face-crop method.")
            xs = [int(p.x * w) for p in found[0].landmark]
            ys = [int(p.y * h) for p in found[0].landmark]
            x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
            side = max(x2 - x1, y2 - y1) * scale
            cx, cy = (x1 + x2) * 0.5, (y1 + y2) * 0.5
            box = [max(0, cx - side / 2), max(0, cy - side / 2), min(w - 1, cx + side / 2), min(h - 1, cy + side / 2)]
            boxes.append([int(v) for v in box])
    return torch.tensor(boxes, dtype=torch.int64)
