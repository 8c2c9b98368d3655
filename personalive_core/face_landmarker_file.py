"""Where MediaPipe's face-landmarker model (face_landmarker.task) is found, or downloaded to.

MediaPipe's Tasks API (all releases after 0.10.21) ships no face model in its wheel: the face-mesh
crops need Google's `face_landmarker.task`, a zip holding the face detector and the landmark model.
`FaceLandmarkerModel` names the folders it is looked for in and whether it may be downloaded there.
"""

from __future__ import annotations

import os
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import FaceMeshUnavailable

MODEL_FILE = "face_landmarker.task"
MODEL_URL = ("https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/latest/"
             + MODEL_FILE)
MODEL_SUBFOLDER = "mediapipe"  # under a model root, e.g. ComfyUI's models/personalive/mediapipe/
BUNDLE_MEMBERS = ("face_detector.tflite", "face_landmarks_detector.tflite")
FOLDERS_ENV = "PERSONALIVE_MEDIAPIPE_MODELS"  # folders (os.pathsep-separated) for the library and command line
DOWNLOAD_ENV = "PERSONALIVE_MEDIAPIPE_DOWNLOAD"  # "1": the library and command line may download the file


class FaceModelMissing(FaceMeshUnavailable):
    """face_landmarker.task is not in any searched folder and may not, or could not, be downloaded."""


def bundle_problem(path: Path) -> str | None:
    """Why `path` is not a usable face-landmarker bundle, or None."""
    try:
        with zipfile.ZipFile(path) as bundle:
            missing = [m for m in BUNDLE_MEMBERS if m not in bundle.namelist()]
    except (OSError, zipfile.BadZipFile) as exc:
        return f"{path} is not a MediaPipe model bundle ({exc}); delete it and download it again from {MODEL_URL}"
    if missing:
        return f"{path} lacks {', '.join(missing)}: it is not the face landmarker; get it from {MODEL_URL}"
    return None


@dataclass(frozen=True)
class FaceLandmarkerModel:
    """The folders searched for face_landmarker.task, in order; with `allow_download` a missing file is
    downloaded into the first. `download_hint` tells how to allow the download (e.g. a node's switch)."""

    folders: tuple[Path, ...]
    allow_download: bool = False
    download_hint: str = ""

    def __post_init__(self):
        object.__setattr__(self, "folders", tuple(Path(f).expanduser() for f in self.folders))
        if not self.folders:
            raise ValueError("FaceLandmarkerModel needs at least one folder")

    @classmethod
    def under(cls, roots: Iterable[str | Path], allow_download: bool = False, download_hint: str = ""):
        """The `mediapipe` sub-folder of each model root (e.g. every registered models/personalive)."""
        return cls(tuple(Path(r) / MODEL_SUBFOLDER for r in roots), allow_download, download_hint)

    def find(self) -> Path | None:
        """The first folder's face_landmarker.task that exists (not yet checked)."""
        return next((f / MODEL_FILE for f in self.folders if (f / MODEL_FILE).is_file()), None)

    def problem(self) -> str | None:
        """Why `path()` would fail without trying a download; cheap (no network, no model load)."""
        found = self.find()
        if found is not None:
            return bundle_problem(found)
        return None if self.allow_download else self.missing_message()

    def path(self) -> Path:
        """The checked model file, downloaded first where missing and allowed; else `FaceModelMissing`."""
        found = self.find()
        if found is None and self.allow_download:
            found = download_model(self.folders[0] / MODEL_FILE)
        if found is None:
            raise FaceModelMissing(self.missing_message())
        problem = bundle_problem(found)
        if problem:
            raise FaceModelMissing(problem)
        return found

    def missing_message(self) -> str:
        looked = ", ".join(str(f) for f in self.folders)
        allow = f", or {self.download_hint}" if self.download_hint and not self.allow_download else ""
        return (f"crop_method 'mediapipe' needs MediaPipe's face-landmarker model {MODEL_FILE}, which is not in "
                f"{looked}. Download it from {MODEL_URL} and save it as {self.folders[0] / MODEL_FILE}{allow}, "
                "or choose the 'keypoints' face-crop method.")


def default_model() -> FaceLandmarkerModel:
    """For the library and command line: the folders in $PERSONALIVE_MEDIAPIPE_MODELS, else
    ~/.cache/personalive/mediapipe; downloads only with PERSONALIVE_MEDIAPIPE_DOWNLOAD=1."""
    folders = [f for f in os.environ.get(FOLDERS_ENV, "").split(os.pathsep) if f.strip()]
    folders = folders or [Path.home() / ".cache" / "personalive" / MODEL_SUBFOLDER]
    allow = os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes", "on")
    hint = f"set {DOWNLOAD_ENV}=1 to download it there"
    return FaceLandmarkerModel(tuple(folders), allow, hint)


def download_model(target: Path, url: str | None = None, timeout: float = 60.0) -> Path:
    """Fetch the bundle (from `MODEL_URL` by default) to `target` through a .part file, checked before it
    takes the name."""
    url = url or MODEL_URL
    partial = target.with_name(target.name + ".part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except Exception as exc:  # offline, proxy, full disk: all end the same way for the user
        partial.unlink(missing_ok=True)
        raise FaceModelMissing(
            f"Could not download {MODEL_FILE} from {url} ({type(exc).__name__}: {exc}). If this computer is "
            f"offline, download it by hand and save it as {target}, or choose the 'keypoints' face-crop method."
        ) from exc
    problem = bundle_problem(partial)
    if problem:
        partial.unlink(missing_ok=True)
        raise FaceModelMissing(f"What {url} sent is not the face-landmarker bundle ({problem}). Try again later, "
                               f"or download it by hand and save it as {target}.")
    os.replace(partial, target)
    return target
