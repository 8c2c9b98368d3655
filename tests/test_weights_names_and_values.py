"""Hugging Face's own file names and sharded checkpoints are accepted; NaN weights are refused and reported."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from personalive_core.errors import WeightsError
from personalive_core.models import NETWORKS, load_network
from personalive_core.tiny_weights import write_tiny_weights
from personalive_core.weights import locate
from personalive_core.weights.inspect import inspect_weights

SDIV = "sd-image-variations-diffusers"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_weights(tmp_path_factory.mktemp("tiny-random"))


@pytest.fixture
def root(tiny, tmp_path):
    copy = tmp_path / "weights"
    shutil.copytree(tiny, copy)
    return copy


def _shard(path, shards: int = 2) -> None:
    """Split a .safetensors file into `shards` files plus the index transformers/diffusers write."""
    state = load_file(str(path))
    keys = sorted(state)
    stem = path.name.removesuffix(".safetensors")
    weight_map = {}
    for i in range(shards):
        name = f"{stem}-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {k: state[k] for k in keys[i::shards]}
        save_file(part, str(path.parent / name))
        weight_map.update({k: name for k in part})
    (path.parent / f"{stem}.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    path.unlink()


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_transformers_and_diffusers_names_are_found(tiny, root):
    encoder = root / SDIV / "image_encoder"
    (encoder / "pytorch_model.safetensors").rename(encoder / "model.safetensors")
    assert locate(root, ["image_encoder"])["image_encoder"].name == "model.safetensors"
    reference, _ = load_network("image_encoder", tiny)
    renamed, _ = load_network("image_encoder", root)
    assert _same_weights(reference, renamed)


def test_sharded_checkpoints_load_through_their_index(tiny, root):
    encoder = root / SDIV / "image_encoder"
    (encoder / "pytorch_model.safetensors").rename(encoder / "model.safetensors")
    _shard(encoder / "model.safetensors")
    _shard(root / SDIV / "unet" / "diffusion_pytorch_model.safetensors", shards=3)
    for name in ("image_encoder", "reference_unet"):
        reference, _ = load_network(name, tiny)
        sharded, _ = load_network(name, root)
        assert _same_weights(reference, sharded), name


def test_a_missing_shard_is_named(root):
    encoder = root / SDIV / "image_encoder"
    (encoder / "pytorch_model.safetensors").rename(encoder / "model.safetensors")
    _shard(encoder / "model.safetensors")
    (encoder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(WeightsError, match="model-00002-of-00002.safetensors"):
        load_network("image_encoder", root)


def test_nan_weights_are_refused_and_reported(root):
    path = root / "personalive" / "pose_guider.safetensors"
    state = load_file(str(path))
    key = sorted(state)[0]
    state[key] = torch.full_like(state[key], float("nan"))
    save_file(state, str(path))
    with pytest.raises(WeightsError, match=f"NaN or infinite.*\\n.*{key}"):
        load_network("pose_guider", root)
    status = {s.spec.key: s for s in inspect_weights(root, NETWORKS.values())}["pose_guider"]
    assert not status.loadable and status.non_finite == [key]
    assert status.line().startswith("DAMAGED") and "download it again" in status.line()


def test_a_truncated_file_is_the_only_one_reported(root):
    """Each file cut short in turn: that file is an ERROR and every other file stays ok (no knock-on MISMATCH)."""
    files = sorted(p for p in root.rglob("*.safetensors") if "taesd" not in p.parts)  # taesd: not a network
    for path in files:
        intact = path.read_bytes()
        path.write_bytes(intact[:5000])
        try:
            statuses = inspect_weights(root, NETWORKS.values())
        finally:
            path.write_bytes(intact)
        bad = [s.path for s in statuses if s.path is not None and s.path.suffix != ".json" and not s.loadable]
        assert bad == [path], (path, bad)
        assert all(s.error is None and not s.missing for s in statuses if s.path != path), path
