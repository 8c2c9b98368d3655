"""The `animate` and `inspect-weights` commands end to end, on tiny random weights."""

from __future__ import annotations

import subprocess
import sys

import av
import pytest

from personalive_core.demo_inputs import write_demo_inputs
from personalive_core.tiny_weights import write_tiny_weights


@pytest.fixture(scope="module")
def tiny_random_weights(tmp_path_factory):
    return write_tiny_weights(tmp_path_factory.mktemp("tiny-random"))


def _run(*args):
    return subprocess.run([sys.executable, "-m", "personalive_core", *map(str, args)], capture_output=True, text=True)


def test_inspect_weights_accepts_tiny_random_weights(tiny_random_weights):
    proc = _run("inspect-weights", tiny_random_weights)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "loadable" in proc.stdout and "MISSING" not in proc.stdout


def test_inspect_weights_reports_missing_and_damaged_files(tiny_random_weights, tmp_path):
    import shutil

    root = tmp_path / "weights"
    shutil.copytree(tiny_random_weights, root)
    (root / "personalive" / "pose_guider.safetensors").unlink()
    damaged = root / "personalive" / "motion_encoder.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    proc = _run("inspect-weights", root)
    assert proc.returncode == 1
    assert "MISSING  personalive/pose_guider.pth" in proc.stdout and "huaichang/PersonaLive" in proc.stdout
    assert "ERROR    personalive/motion_encoder.pth" in proc.stdout


def test_inspect_weights_on_the_golden_fixture(tiny_weights):
    proc = _run("inspect-weights", tiny_weights)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.count("\nok ") + proc.stdout.startswith("ok ") == 9


def test_animate_keeps_frame_count_rate_and_audio(tiny_random_weights, tmp_path):
    portrait, video = write_demo_inputs(tmp_path, size=96, frames=5, fps=10)
    out = tmp_path / "out.mp4"
    proc = _run("animate", "--reference", portrait, "--driving", video, "--output", out,
                "--weights", tiny_random_weights, "--size", 64, "--seed", 3)
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as container:
        video_stream = container.streams.video[0]
        assert video_stream.average_rate == 10
        assert (video_stream.width, video_stream.height) == (64, 64)
        assert sum(1 for _ in container.decode(video=0)) == 5
    with av.open(str(out)) as container:
        assert len(container.streams.audio) == 1


def test_animate_from_a_single_image(tiny_random_weights, tmp_path):
    portrait, _ = write_demo_inputs(tmp_path, size=64, frames=1)
    out = tmp_path / "still.mp4"
    proc = _run("animate", "--reference", portrait, "--driving", portrait, "--output", out,
                "--weights", tiny_random_weights, "--size", 64)
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 1


def test_animate_explains_bad_input(tiny_random_weights, tmp_path):
    proc = _run("animate", "--reference", tmp_path / "nope.png", "--driving", tmp_path / "nope.mp4",
                "--output", tmp_path / "o.mp4", "--weights", tiny_random_weights, "--size", 64)
    assert proc.returncode == 2 and "error:" in proc.stderr and "nope.png" in proc.stderr
    proc = _run("animate", "--reference", "a.png", "--driving", "b.mp4", "--output", "o.mp4", "--size", 64)
    assert proc.returncode == 2 and "--tiny-random-weights" in proc.stderr
