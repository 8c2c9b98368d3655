"""The weights loader: clear errors for missing, damaged, mismatched and malicious files."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from personalive_core.errors import WeightsError
from personalive_core.models import NETWORKS, load_network
from personalive_core.models.pose_guider import PoseGuider
from personalive_core.weights import BY_KEY, OFFICIAL_FILES, load_into, load_state_dict_file, locate
from personalive_core.weights.inspect import inspect_weights


def _pose_guider_state(width: int = 32) -> dict:
    return {k: torch.randn_like(v) for k, v in PoseGuider(out_channels=width).state_dict().items()}


def _pose_guider_root(root, state: dict, unet_width: int = 32):
    """A weights folder with only what the pose guider reads: its file and the UNet config."""
    for key in ("pose_guider", "base_unet_config"):
        (root / BY_KEY[key].relpath).parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, root / BY_KEY["pose_guider"].relpath)
    (root / BY_KEY["base_unet_config"].relpath).write_text(json.dumps({"block_out_channels": [unet_width]}))
    return root


def test_missing_files_are_named_with_path_and_download_address(tmp_path):
    (tmp_path / "personalive").mkdir()
    torch.save(_pose_guider_state(), tmp_path / "personalive" / "pose_guider.pth")
    with pytest.raises(WeightsError) as err:
        locate(tmp_path)
    text = str(err.value)
    assert f"{len(OFFICIAL_FILES) - 1} PersonaLive weights file(s) missing" in text
    assert str(tmp_path / "personalive" / "denoising_unet.pth") in text
    assert "huggingface.co/huaichang/PersonaLive" in text
    assert "pose_guider.pth" not in text


def test_missing_root_folder(tmp_path):
    with pytest.raises(WeightsError, match="Weights folder not found"):
        locate(tmp_path / "nowhere")


def test_safetensors_file_is_preferred(tmp_path):
    (tmp_path / "personalive").mkdir()
    save_file(_pose_guider_state(), str(tmp_path / "personalive" / "pose_guider.safetensors"))
    torch.save(_pose_guider_state(), tmp_path / "personalive" / "pose_guider.pth")
    assert locate(tmp_path, ["pose_guider"])["pose_guider"].suffix == ".safetensors"


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_truncated_file(tmp_path, suffix):
    path = tmp_path / f"pose_guider{suffix}"
    state = _pose_guider_state()
    torch.save(state, path) if suffix == ".pth" else save_file(state, str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="damaged or incomplete"):
        load_state_dict_file(path)


def test_wrong_keys_are_listed(tmp_path):
    state = _pose_guider_state()
    state["extra.weight"] = state.pop("blocks.3.weight")
    with pytest.raises(WeightsError) as err:
        load_network("pose_guider", _pose_guider_root(tmp_path, state))
    text = str(err.value)
    assert "blocks.3.weight" in text and "missing" in text
    assert "extra.weight" in text and "unexpected" in text


def test_wrong_shape_is_reported():
    model = PoseGuider(out_channels=32)
    state = _pose_guider_state(32)
    state["conv_in.weight"] = torch.zeros(16, 3, 5, 5)
    with pytest.raises(WeightsError, match="wrong shape"):
        load_into(model, [("file", state)], model="pose_guider")


def test_tolerated_keys_are_reported_not_raised():
    state = _pose_guider_state(32)
    del state["conv_in.bias"]
    state["unused.bias"] = torch.zeros(1)
    report = load_into(
        PoseGuider(out_channels=32), [("file", state)], model="pose_guider",
        tolerate_missing=["conv_in.bias"], tolerate_unexpected=["unused.*"],
    )
    assert report.ok and report.tolerated_missing == ["conv_in.bias"]
    assert report.tolerated_unexpected == ["unused.bias (in file)"]


class _Exploit:
    """An object whose unpickling runs a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("legacy", [False, True])
def test_code_executing_pickle_is_refused(tmp_path, legacy):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"conv_in.weight": torch.zeros(1), "x": _Exploit(marker)}
    if legacy:
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    else:
        torch.save(payload, path)
    with pytest.raises(WeightsError, match="Refused to load|damaged") as err:
        load_state_dict_file(path)
    assert not marker.exists(), "the pickle's code was executed"
    assert "weights_only" not in str(err.value) and ".." not in str(err.value)  # never advise the unsafe way


def test_fp16_load_converts_values(tmp_path):
    model, report = load_network("pose_guider", _pose_guider_root(tmp_path, _pose_guider_state(32)), torch.float16)
    assert report.ok and next(model.parameters()).dtype == torch.float16
    assert model.conv_out_modify.out_channels == 32
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_a_single_file_is_not_a_weights_folder(tmp_path):
    root = _pose_guider_root(tmp_path, _pose_guider_state(32))
    with pytest.raises(WeightsError, match="Weights folder not found"):
        load_network("pose_guider", root / BY_KEY["pose_guider"].relpath)


def test_pose_guider_wider_than_the_unet_is_refused_and_reported(tmp_path):
    """Its features are added to the UNet's conv_in output: a mismatch used to crash in the first UNet call."""
    root = _pose_guider_root(tmp_path, _pose_guider_state(64), unet_width=32)
    with pytest.raises(WeightsError) as err:
        load_network("pose_guider", root)
    text = str(err.value)
    assert "64" in text and "32" in text
    assert str(root / BY_KEY["pose_guider"].relpath) in text and str(root / BY_KEY["base_unet_config"].relpath) in text
    status = {s.spec.key: s for s in inspect_weights(root, NETWORKS.values())}["pose_guider"]
    assert not status.loadable and status.conflict == text
    assert "MISMATCH" in status.line() and text in status.line()


def test_every_network_says_why_its_tolerated_keys_are_harmless():
    for spec in NETWORKS.values():
        assert set(spec.files) <= set(BY_KEY) and (spec.config is None or spec.config in BY_KEY)
        assert all(len(t.reason) > 20 for t in (*spec.missing_ok, *spec.unexpected_ok)), spec.name
