"""Fixtures for the ComfyUI side of the pack.

Unit tests (test_nodes_*.py) load the pack the way ComfyUI does, but against the fake ComfyUI modules in
fakes.py, and run the nodes on the real core with tiny random weights. Server and browser tests
(test_server_*.py, test_browser_*.py) start a real ComfyUI 0.30.0 (server.py; 0.3.75 for a smoke test) provisioned by
scripts/provision_comfyui.sh.
"""

from __future__ import annotations

import json
import os
import shutil
import types
from pathlib import Path

import pytest
import torch

from helpers import unavailable

from . import fakes, media, server
from .fakes import node_classes

REPO = Path(__file__).resolve().parents[2]
PACK_NAME = "ComfyUI-PersonaLive"


# --------------------------------------------------------------------------------------------------
# unit tests: the pack against fake ComfyUI modules, on the real core
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def comfy_recorder():
    return fakes.Recorder()


@pytest.fixture(scope="session")
def fake_models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("comfy_models")


@pytest.fixture(scope="session")
def pack(fake_models_dir, comfy_recorder):
    """The pack module, imported like ComfyUI imports a custom node folder, with fake ComfyUI modules."""
    with fakes.loaded_pack(REPO, fake_models_dir, comfy_recorder, PACK_NAME) as module:
        yield module


@pytest.fixture
def rec(comfy_recorder):
    comfy_recorder.reset()
    return comfy_recorder


@pytest.fixture(scope="session")
def weights_dir(fake_models_dir, tiny_weights_root) -> Path:
    """models/personalive/tiny: the tiny random weights, as LoadPersonaLiveModels finds them."""
    link = fake_models_dir / "personalive" / "tiny"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(tiny_weights_root, target_is_directory=True)
    return link


@pytest.fixture(scope="session")
def real_models(pack, weights_dir):
    """The tiny weights loaded once by LoadPersonaLiveModels (fp32, CPU): a PersonaLiveModelBundle."""
    return node_classes(pack)["LoadPersonaLiveModels"].execute(weights_dir.name, "fp32", False)[0]


GRAPH_FRAMES = 4  # driving frames of the shared graph: one 4-frame chunk (test_nodes_real_core pads one)


def node(pack, name: str):
    """The node class registered under `name` (its classmethod `execute` runs it)."""
    return node_classes(pack)[name]


def img(n: int, h: int = 64, w: int = 64, channels: int = 3) -> torch.Tensor:
    """A seeded random IMAGE batch."""
    return torch.rand(n, h, w, channels, generator=torch.Generator().manual_seed(n))


@pytest.fixture(scope="session")
def graph(pack, real_models):
    """Every intermediate of one node chain at 64 px (GRAPH_FRAMES driving frames), computed once: models,
    keypoints, pose maps (with lead-in), reference features, motion. The reference is RGBA, as some
    loaders give it (the alpha is dropped)."""
    reference, driving = img(1, channels=4), img(GRAPH_FRAMES, 72, 96)
    kps = node(pack, "ExtractLivePortraitKeypoints").execute(real_models, reference, driving, "keypoints", 64)[0]
    maps = node(pack, "RenderPoseMap").execute(kps, True)[0]
    ref = node(pack, "EncodeReference").execute(real_models, reference, 64)[0]
    motion = node(pack, "MotionEncode").execute(real_models, reference, driving, kps)[0]
    return types.SimpleNamespace(models=real_models, kps=kps, maps=maps, ref=ref, motion=motion)


# --------------------------------------------------------------------------------------------------
# server and browser tests: one real ComfyUI 0.30.0 for the whole session
# --------------------------------------------------------------------------------------------------

TEST_SIZE = 64  # working size the server tests run at (a multiple of 64; tiny weights, CPU)
DRIVING_FRAMES = 16  # 4 windows of 4 frames
CACHE = Path(os.environ.get("PERSONALIVE_TEST_CACHE", Path.home() / ".cache" / "personalive-tests"))


@pytest.fixture(scope="session")
def artefacts_dir() -> Path:
    """Screenshots and the server log: artifacts/comfy-tests/ (git-ignored) or PERSONALIVE_TEST_ARTEFACTS."""
    path = Path(os.environ.get("PERSONALIVE_TEST_ARTEFACTS", REPO / "artifacts" / "comfy-tests"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def tiny_weights_root(tmp_path_factory) -> Path:
    """Weights for the server: PERSONALIVE_TEST_WEIGHTS if set, else tiny random ones from the core."""
    override = os.environ.get("PERSONALIVE_TEST_WEIGHTS")
    if override:
        return Path(override)
    from personalive_core import api

    return Path(api.make_tiny_weights(tmp_path_factory.mktemp("tiny_weights") / "tiny"))


def tiny_server(run_dir: Path, tiny_weights_root: Path) -> "server.ComfyServer":
    """A ComfyUI server (not started) with the pack, the tiny weights as models/personalive/tiny, and the
    shipped workflows' input files in input/."""
    srv = server.ComfyServer(run_dir)
    srv.prepare()
    (srv.models_dir / "personalive").mkdir(parents=True)
    (srv.models_dir / "personalive" / "tiny").symlink_to(tiny_weights_root, target_is_directory=True)
    media.write_inputs(srv.input_dir, DRIVING_FRAMES)
    return srv


@pytest.fixture(scope="session")
def comfy_server(tmp_path_factory, artefacts_dir, request):
    """A running ComfyUI with the pack, tiny weights in models/personalive/tiny, a second weights folder
    reached through extra_model_paths.yaml, and the shipped workflows' input files in input/."""
    try:
        server.find_runtime()
    except server.RuntimeUnavailable as exc:
        unavailable(str(exc))
    tiny_weights_root = request.getfixturevalue("tiny_weights_root")
    run_dir = tmp_path_factory.mktemp("comfy_run")
    srv = tiny_server(run_dir, tiny_weights_root)
    extra_root = tmp_path_factory.mktemp("extra_models")
    (extra_root / "elsewhere").mkdir()
    (extra_root / "elsewhere" / "tiny_extra").symlink_to(tiny_weights_root, target_is_directory=True)
    yaml_path = run_dir / "extra_model_paths.yaml"
    yaml_path.write_text(f"personalive_tests:\n  base_path: {extra_root}\n  personalive: elsewhere\n")
    srv.extra_args = ["--extra-model-paths-config", str(yaml_path), "--preview-method", "latent2rgb"]
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        shutil.copy(srv.log_path, artefacts_dir / "comfyui-server.log")


@pytest.fixture(scope="session")
def client(comfy_server):
    from personalive_core.comfy_client import ComfyClient

    return ComfyClient(comfy_server.url, timeout=60)


def api_workflow(name: str, **overrides) -> dict:
    """A shipped API workflow set up for the tiny test weights (plus `node_id.input=value` overrides)."""
    prompt = json.loads((REPO / "workflows" / "api" / f"{name}.json").read_text())
    for node in prompt.values():
        inputs = node["inputs"]
        if node["class_type"] == "LoadPersonaLiveModels":
            inputs["weights_folder"] = "tiny"
        if node["class_type"] in ("EncodeReference", "ExtractLivePortraitKeypoints"):
            inputs["size"] = TEST_SIZE
    for key, value in overrides.items():
        node_id, _, input_name = key.partition("__")
        prompt[node_id]["inputs"][input_name] = value
    return prompt
