"""The .safetensors reader: the same tensors as the safetensors library, clear errors on damaged files."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from personalive_core.errors import WeightsError
from personalive_core.weights.safe_load import load_state_dict_file


def _tensors() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {
        "f32": torch.randn(3, 5, generator=gen), "f16": torch.randn(7, generator=gen).half(),
        "bf16": torch.randn(2, 2, 2, generator=gen).bfloat16(), "i64": torch.arange(-4, 5),
        "bool": torch.tensor([True, False, True]), "u8": torch.arange(256, dtype=torch.uint8),
        "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 4), "f64": torch.randn(3, generator=gen).double(),
    }


def test_reads_what_safetensors_wrote(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file(_tensors(), str(path), metadata={"format": "pt"})
    ours, theirs = load_state_dict_file(path), load_file(str(path))
    assert sorted(ours) == sorted(theirs) and len(ours) == len(theirs)
    for key, tensor in theirs.items():
        got = ours[key]
        assert got.dtype == tensor.dtype and got.shape == tensor.shape and torch.equal(got, tensor), key
    with pytest.raises(KeyError):
        ours["absent"]


@pytest.mark.parametrize("keep", [4, 8 + 10, -3])
def test_a_cut_off_file_is_reported_as_damaged(tmp_path, keep):
    """Cut in the length field, in the header, or in the data (the last tensor's bytes missing)."""
    path = tmp_path / "w.safetensors"
    save_file({"a": torch.ones(4), "b": torch.ones(100)}, str(path))
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    with pytest.raises(WeightsError, match="damaged or incomplete"):
        load_state_dict_file(path)


def test_an_entry_that_does_not_fit_its_shape_is_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    header = b'{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}'
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    with pytest.raises(WeightsError, match="does not fit its shape"):
        load_state_dict_file(path)
