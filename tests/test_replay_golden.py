"""Whole-stream parity with the original on the golden case (`replay-golden`)."""

from __future__ import annotations

import subprocess
import sys

from personalive_core.parity.compare import format_table
from personalive_core.parity.replay import replay_case


def test_replay_golden_command_every_stage_of_every_call(golden):
    """`replay-golden CASE_DIR`: generates the weights with the case's make_weights.py, starts every
    call from the recorded state and conditioning, and gates every stage on its own."""
    cmd = [sys.executable, "-m", "personalive_core", "replay-golden", str(golden.dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    print(proc.stdout[-20000:], proc.stderr[-5000:])
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[-1].endswith(" passed, 0 failed")
    for stage in ("unet.out.noise_pred", "step.pred_original_sample", "latents_pile_after[2]", "output frames",
                  "keyframe decision", "motion-bank min distance", "keyframe features", "vae.decode.out"):
        assert any(f".{stage}" in line for line in lines), stage
    assert sum(".keyframe decision (added)" in line for line in lines) == 3


def test_free_running_stream_matches_outputs(golden, tiny_weights):
    """The stream on its own state from start to end: output frames within 1e-3 and identical
    keyframe decisions, boxes and pose maps."""
    rec = replay_case(golden.dir, tiny_weights, echo=None, free_running=True)
    print("\n" + format_table(rec.results))
    failures = [r.line() for r in rec.results if not r.ok]
    assert not failures, "\n".join(failures)


def test_replay_golden_rejects_a_folder_that_is_not_a_case(tmp_path):
    cmd = [sys.executable, "-m", "personalive_core", "replay-golden", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2 and "not a golden case directory" in proc.stdout
