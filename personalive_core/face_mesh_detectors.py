"""The two MediaPipe face meshes, one still RGB image at a time: the legacy solution (mediapipe <= 0.10.21)
and the Tasks face landmarker (every current release). Both give the 468 mesh points, normalised to [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MESH_POINTS = 468  # the legacy mesh; the face landmarker adds 10 iris points (468-477) inside the eyes


class LegacyFaceMesh:
    """`mediapipe.solutions.face_mesh` as the original's offline mode runs it (static images, one face)."""

    def __init__(self, solution):
        self._mesh = solution.FaceMesh(static_image_mode=True, max_num_faces=1)

    def landmarks(self, rgb: np.ndarray) -> list[tuple[float, float]] | None:
        found = self._mesh.process(np.ascontiguousarray(rgb)).multi_face_landmarks
        return [(p.x, p.y) for p in found[0].landmark[:MESH_POINTS]] if found else None

    def close(self) -> None:
        self._mesh.close()


class TasksFaceMesh:
    """MediaPipe Tasks `FaceLandmarker` from a face_landmarker.task bundle (still images, one face)."""

    def __init__(self, model_path: Path):
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=Path(model_path).read_bytes()),  # any path, any OS
            running_mode=vision.RunningMode.IMAGE, num_faces=1)
        self._landmarker = vision.FaceLandmarker.create_from_options(options)

    def landmarks(self, rgb: np.ndarray) -> list[tuple[float, float]] | None:
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        found = self._landmarker.detect(image).face_landmarks
        return [(p.x, p.y) for p in found[0][:MESH_POINTS]] if found else None

    def close(self) -> None:
        self._landmarker.close()
