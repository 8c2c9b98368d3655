"""`animate --resume`: a render killed at any point continues from its last checkpoint, and the finished
file is byte-identical to an uninterrupted run; a checkpoint of another render is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from personalive_core.cli import main
from personalive_core.demo_inputs import write_demo_inputs
from personalive_core.frame_folder import FrameFolderWriter
from personalive_core.render import Render

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_demo_inputs(tmp_path_factory.mktemp("demo"), size=64, frames=24, fps=10)


def _args(weights, portrait, video, output, *extra):
    return ["animate", "--reference", str(portrait), "--driving", str(video), "--output", str(output),
            "--weights", str(weights), "--size", "64", "--seed", "5", *map(str, extra)]


def _start(args):
    return subprocess.Popen([sys.executable, "-m", "personalive_core", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when(process, ready, timeout=300):
    """SIGKILL `process` as soon as `ready()` is true (no chance to clean up or save anything)."""
    deadline = time.time() + timeout
    while not ready():
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "the render did not get that far in time"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_killed_renders_resume_to_the_same_file(tiny_random_weights, demo, tmp_path, monkeypatch, capsys):
    portrait, video = demo
    assert main(_args(tiny_random_weights, portrait, video, tmp_path / "plain.mp4")) == 0
    out = tmp_path / "resumed.mp4"
    resumable = _args(tiny_random_weights, portrait, video, out, "--resume", "--checkpoint-every", 1)
    frames = tmp_path / "resumed.mp4.resume" / "frames"
    for kill_after in (6, 17):  # mid-window, then in a later window of the resumed run
        _kill_when(_start(resumable), lambda: (frames / f"frame_{kill_after:06d}.png").exists())
        assert not out.exists() and (frames.parent / "checkpoint.pt").exists()

    other_seed = subprocess.run([sys.executable, "-m", "personalive_core", *resumable, "--seed", "6"], cwd=ROOT,
                                capture_output=True, text=True)  # the last --seed wins
    assert other_seed.returncode == 2 and "Traceback" not in other_seed.stderr
    assert "belongs to another render: it was made with seed 5 (now 6)" in other_seed.stderr
    assert "delete" in other_seed.stderr and "loading" not in other_seed.stderr

    def encoding_fails(self, folder, count):  # stopped after the last frame, while encoding the file
        raise OSError("the disk filled up while encoding")

    monkeypatch.setattr(Render, "_encode_from", encoding_fails)
    with pytest.raises(OSError, match="disk filled up"):
        main(resumable)
    assert not out.exists() and (frames.parent / "checkpoint.pt").exists()
    monkeypatch.undo()
    # Every frame is already there: the next run only encodes them (no reference step, nothing rendered).
    monkeypatch.setattr(Render, "_animation", lambda self: pytest.fail("the finished render was animated again"))
    assert main(resumable) == 0
    assert "24 frames (24 of them by an earlier run)" in capsys.readouterr().out
    assert out.read_bytes() == (tmp_path / "plain.mp4").read_bytes()
    assert not frames.parent.exists()  # a finished render removes its progress


def test_ctrl_c_then_resume_into_a_png_folder(tiny_random_weights, demo, tmp_path, monkeypatch, capsys):
    portrait, video = demo
    assert main(_args(tiny_random_weights, portrait, video, tmp_path / "plain")) == 0
    real_write, calls = FrameFolderWriter.write, []

    def write_then_ctrl_c(self, frames, times=None):
        calls.append(len(frames))
        if len(calls) == 4:
            raise KeyboardInterrupt
        real_write(self, frames, times)

    monkeypatch.setattr(FrameFolderWriter, "write", write_then_ctrl_c)
    args = _args(tiny_random_weights, portrait, video, tmp_path / "resumed", "--resume", "--checkpoint-every", 2)
    assert main(args) == 130  # 3 windows of output lag the input: the checkpoint after 24 driving frames has 12
    assert "run again with --resume to continue from the last checkpoint, at frame 12" in capsys.readouterr().err
    monkeypatch.setattr(FrameFolderWriter, "write", real_write)
    assert main(args) == 0  # the folder holds the interrupted run's frames: allowed when resuming
    plain, resumed = sorted((tmp_path / "plain").iterdir()), sorted((tmp_path / "resumed").iterdir())
    assert [p.name for p in plain] == [p.name for p in resumed] and len(plain) == 24
    assert all(np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b))) for a, b in zip(plain, resumed))
    assert not (tmp_path / "resumed.resume").exists()
