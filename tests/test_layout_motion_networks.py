"""The motion extractor and motion encoder have exactly the official checkpoints' keys and shapes."""

from __future__ import annotations

import torch

from personalive_core.models.motion_encoder import MotionEncoder
from personalive_core.models.motion_extractor import MotionExtractor
from personalive_core.models.sincos import sincos_table_1d

from helpers import manifest_layout, state_layout


def _check(module, manifest, file_key):
    expected = manifest_layout(manifest, file_key)
    actual = state_layout(module)
    assert set(actual) - set(expected) == set(), "keys the checkpoint does not have"
    assert set(expected) - set(actual) == set(), "checkpoint keys the model lacks"
    wrong = {k: (actual[k], expected[k]) for k in expected if actual[k] != expected[k]}
    assert not wrong
    assert list(actual) == list(expected), "same keys, different order"


def test_motion_extractor_layout(manifest):
    with torch.device("meta"):
        model = MotionExtractor(num_kp=21)
    _check(model, manifest, "motion_extractor.pth")


def test_motion_encoder_layout(manifest):
    with torch.device("meta"):
        model = MotionEncoder()
    _check(model, manifest, "motion_encoder.pth")
    # The 2-D position tables are recomputed, never loaded, and real even on a meta-built model.
    tables = {k: v for k, v in model.named_buffers() if k.endswith("pos_embed.pos_embed")}
    assert sorted(tables) == [f"model.att_{i}.pos_embed.pos_embed" for i in (1, 2, 3)]
    assert all(t.shape == (1, 784, 1024) and not t.is_meta for t in tables.values())


def test_position_tables():
    pe = sincos_table_1d(16, 32)
    row1 = [0.841471, 0.3109836, 0.09983341, 0.03161751, 0.009999833, 0.003162272, 0.0009999998, 0.0003162278,
            0.5403023, 0.9504153, 0.9950042, 0.9995, 0.99995, 0.999995, 0.9999995, 0.9999999]
    torch.testing.assert_close(pe[1], torch.tensor(row1), rtol=0, atol=5e-7)
    row31 = torch.tensor([-0.4040377, -0.3693252, 0.04158066, 0.8306678])
    torch.testing.assert_close(pe[31, :4], row31, rtol=0, atol=5e-7)

    with torch.device("meta"):
        model = MotionEncoder()
    table = model.model.att_1.pos_embed.pos_embed[0]  # token index = row * 28 + col
    row, col = 3, 5
    token = table[row * 28 + col]
    assert abs(token[0].item() - torch.sin(torch.tensor(float(col))).item()) < 1e-6  # first half: column
    assert abs(token[512].item() - torch.sin(torch.tensor(float(row))).item()) < 1e-6  # second half: row
    assert abs(token[256].item() - torch.cos(torch.tensor(float(col))).item()) < 1e-6
