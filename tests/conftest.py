"""Shared fixtures: the ../shared folder, the golden case and its generated weights."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from helpers import unavailable

# The golden fixtures were recorded with 2 CPU threads; the reduction order depends on it.
torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PERSONALIVE_SHARED", REPO.parent / "shared"))
CASE = "tiny128_seed1234"
CACHE = Path(os.environ.get("PERSONALIVE_TEST_CACHE", Path.home() / ".cache" / "personalive-tests"))


def _need_shared(path: Path) -> Path:
    if path.exists():
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{path} is missing; CI must run with ../shared beside the repository")
    pytest.skip(f"needs {path} (the project's shared fixtures, not part of a user's clone)")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need_shared(SHARED)


@pytest.fixture(scope="session")
def manifest(shared_dir) -> dict:
    return json.loads((_need_shared(shared_dir / "personalive_weights_manifest.json")).read_text())


@pytest.fixture(scope="session")
def golden(shared_dir):
    from personalive_core.parity import GoldenCase

    return GoldenCase(_need_shared(shared_dir / "golden" / CASE))


@pytest.fixture(scope="session")
def tiny_weights(golden) -> Path:
    """Seeded random weights of the golden case in the official layout (generated once, cached)."""
    from personalive_core.parity import generate_case_weights

    return generate_case_weights(golden.dir, CACHE / f"{CASE}-{golden.layout_digest()}")



@pytest.fixture(scope="session")
def tiny_models(tiny_weights):
    """All networks of the golden case, fp32 on the CPU, loaded once per test session."""
    from personalive_core.loading import load_models

    return load_models(tiny_weights, dtype="fp32", device="cpu")


@pytest.fixture(scope="session")
def tiny_random_weights(tmp_path_factory) -> Path:
    """Tiny seeded random weights in the official layout (no ../shared needed)."""
    from personalive_core.tiny_weights import write_tiny_weights

    return write_tiny_weights(tmp_path_factory.mktemp("tiny-random"))


@pytest.fixture(scope="session")
def reference(tiny_models, golden):
    """The golden case's reference portrait encoded with the golden tiny weights, at the golden size."""
    from personalive_core.reference import encode_reference

    size = golden.load("fuse_reference")["state.ref_image_tensor"].shape[-1]
    return encode_reference(tiny_models, golden.reference_image(), size=size)


@pytest.fixture(scope="session")
def driving(golden):
    """The golden case's driving frames (N,3,S,S) in [-1,1]."""
    return golden.driving_frames()


@pytest.fixture(scope="session")
def face_landmarker_folder(tmp_path_factory) -> Path:
    """A folder holding Google's face_landmarker.task, extracted at test time (tests/mediapipe_model.py)."""
    from mediapipe_model import MISSING, official_face_landmarker

    model = official_face_landmarker(tmp_path_factory.mktemp("mediapipe"))
    if model is None:
        unavailable(MISSING)  # a skip on a user's clone, a failure in CI
    return model.parent


@pytest.fixture
def face_mesh_ready(request, monkeypatch, tmp_path):
    """MediaPipe's face mesh as the library's defaults find it: the legacy solution where installed, else
    the Tasks face landmarker with the official model in $PERSONALIVE_MEDIAPIPE_MODELS. Skips without them."""
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (optional extra: pip install -U mediapipe)")
    from personalive_core.face_mesh import installed_backends

    monkeypatch.setenv("PERSONALIVE_MEDIAPIPE_MODELS", str(tmp_path / "no-model"))  # not the user's own cache
    if installed_backends()[:1] == ("tasks",):
        monkeypatch.setenv("PERSONALIVE_MEDIAPIPE_MODELS", str(request.getfixturevalue("face_landmarker_folder")))
