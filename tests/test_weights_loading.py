"""The weights loader: clear errors for missing, damaged, mismatched and malicious files."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from personalive_core.errors import WeightsError
from personalive_core.models.pose_guider import PoseGuider, load_pose_guider
from personalive_core.weights import OFFICIAL_FILES, load_into, load_state_dict_file, locate


def _pose_guider_state(width: int = 32) -> dict:
    return {k: torch.randn_like(v) for k, v in PoseGuider(out_channels=width).state_dict().items()}


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
    path = tmp_path / "pose_guider.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as err:
        load_pose_guider(path)
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
    with pytest.raises(WeightsError, match="Refused to load|damaged"):
        load_state_dict_file(path)
    assert not marker.exists(), "the pickle's code was executed"


def test_fp16_load_converts_values(tmp_path):
    path = tmp_path / "pose_guider.pth"
    torch.save(_pose_guider_state(32), path)
    model, report = load_pose_guider(path, dtype=torch.float16)
    assert report.ok and next(model.parameters()).dtype == torch.float16
    assert model.conv_out_modify.out_channels == 32
