"""`animate` checks every input before the models load, and refuses outputs that would destroy input.

The models loader is replaced by one that fails the test, so each case proves its check runs first.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from personalive_core import loading
from personalive_core.cli import main
from personalive_core.demo_inputs import write_demo_inputs


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    return write_demo_inputs(tmp_path_factory.mktemp("demo"), size=64, frames=3, fps=10)


@pytest.fixture(autouse=True)
def models_must_not_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the models were loaded before the bad input was found")

    monkeypatch.setattr(loading, "load_models", refuse)


def _animate(capsys, reference, driving, output, *extra) -> str:
    argv = ["animate", "--reference", str(reference), "--driving", str(driving), "--output", str(output),
            "--tiny-random-weights", "--size", "64", *map(str, extra)]
    assert main(argv) == 2
    return capsys.readouterr().err


def _audio_only(path: Path) -> Path:
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in list(stream.encode(frame)) + list(stream.encode()):
            out.mux(packet)
    return path


def _broken_driving(kind: str, folder: Path, demo_video: Path) -> Path:
    if kind == "missing":
        return folder / "nope.mp4"
    if kind == "random bytes":
        (folder / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
        return folder / "noise.mp4"
    if kind == "truncated":
        (folder / "cut.mp4").write_bytes(demo_video.read_bytes()[:600])
        return folder / "cut.mp4"
    if kind == "audio only":
        return _audio_only(folder / "speech.m4a")
    if kind == "folder":
        return folder
    raise ValueError(kind)


@pytest.mark.parametrize("kind, message", [
    ("missing", "Driving input not found"),
    ("random bytes", "Cannot read the driving video"),
    ("truncated", "driving video"),
    ("audio only", "has no video stream"),
    ("folder", "is not a file"),
])
def test_unreadable_driving_inputs(capsys, tmp_path, demo, kind, message):
    portrait, video = demo
    driving = _broken_driving(kind, tmp_path, video)
    err = _animate(capsys, portrait, driving, tmp_path / "out.mp4")
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("name, message", [
    ("out.avi", "must end in one of .mp4, .mov, .mkv, .webm, .gif or a folder"),
    ("out.png", "Cannot write the animation to the single image"),
    ("portrait.png/out.mp4", "is a file, not a folder"),
    ("portrait.png/frames/", "is a file, not a folder"),
])
def test_unusable_output_paths(capsys, tmp_path, demo, name, message):
    portrait, video = demo
    assert message in _animate(capsys, portrait, video, portrait.parent / name)


def test_the_output_may_not_be_an_input(capsys, demo):
    portrait, video = demo
    before = video.read_bytes()
    assert "would destroy that input" in _animate(capsys, portrait, video, video)
    assert "would destroy that input" in _animate(capsys, portrait, video, video.parent / "." / video.name)
    assert video.read_bytes() == before


@pytest.mark.parametrize("extra, message", [
    (("--size", "0"), "between 64 and 2048"),
    (("--size", "-64"), "between 64 and 2048"),
    (("--size", "100"), "use 64 or 128"),
    (("--device", "gpu0"), "Unknown device 'gpu0'"),
    (("--pose-strength", "3"), "pose_strength must be between 0 and 2"),
    (("--smoothing", "-0.1"), "smoothing must be between 0 (off) and 1"),
])
def test_bad_options(capsys, tmp_path, demo, extra, message):
    portrait, video = demo
    assert message in _animate(capsys, portrait, video, tmp_path / "out.mp4", *extra)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a PyTorch without CUDA")
def test_cuda_on_a_cpu_build_is_explained(capsys, tmp_path, demo):
    portrait, video = demo
    err = _animate(capsys, portrait, video, tmp_path / "out.mp4", "--device", "cuda")
    assert "cannot use CUDA" in err and "--device cpu" in err


def test_decode_chunk_must_be_positive(capsys, tmp_path, demo):
    portrait, video = demo
    with pytest.raises(SystemExit) as exit_info:
        main(["animate", "--reference", str(portrait), "--driving", str(video), "--output", str(tmp_path / "o.mp4"),
              "--tiny-random-weights", "--decode-chunk", "0"])
    assert exit_info.value.code == 2 and "must be 1 or more" in capsys.readouterr().err


def test_unreadable_reference(capsys, tmp_path, demo):
    _, video = demo
    (tmp_path / "face.png").write_bytes(b"not a png")
    err = _animate(capsys, tmp_path / "face.png", video, tmp_path / "out.mp4")
    assert "Cannot read the image" in err and "face.png" in err
