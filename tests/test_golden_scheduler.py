"""The per-frame DDIM variant against the original's recorded noising and steps."""

from __future__ import annotations

import pytest
import torch

from personalive_core.parity import compare_tensors
from personalive_core.scheduler import StreamingDDIM

REL_TOL = 1e-5


def _check(result):
    print(result.line())
    assert result.ok, result.line()


def test_alphas_match_the_spec_table():
    acp = StreamingDDIM().alphas_cumprod
    expected = {0: 0.99914998, 333: 0.44681713, 666: 0.037641063, 999: 0.00023001258}
    for t, value in expected.items():
        assert acp[t].item() == pytest.approx(value, rel=1e-6)


def test_initial_pile_noising(golden):
    rec = golden.load("fuse_reference")
    x, noise, tvec = rec["scheduler.add_noise.args"]
    _check(compare_tensors("fuse_reference add_noise", StreamingDDIM().add_noise(x, noise, tvec), rec["scheduler.add_noise"], REL_TOL))


@pytest.mark.parametrize("call", ["call_00", "call_01", "call_09", "call_15"])
def test_new_chunk_noising_and_step(golden, call):
    rec, sched = golden.load(call), StreamingDDIM()
    x, noise, tvec = rec["scheduler.add_noise.args"]
    _check(compare_tensors(f"{call} add_noise t=999", sched.add_noise(x, noise, tvec), rec["scheduler.add_noise"], REL_TOL))
    sample = rec["unet.in.sample"][0].transpose(0, 1)
    eps = rec["unet.out.noise_pred"][0].transpose(0, 1)
    assert torch.equal(rec["unet.in.timesteps"], sched.window_timesteps())
    x_prev, x0 = sched.step(eps, rec["unet.in.timesteps"], sample)
    want_prev, want_x0 = rec["scheduler.step(prev_sample,pred_original_sample)"]
    _check(compare_tensors(f"{call} step prev_sample", x_prev, want_prev, REL_TOL))
    _check(compare_tensors(f"{call} step pred_original_sample", x0, want_x0, REL_TOL))
