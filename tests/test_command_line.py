"""The `animate` and `inspect-weights` commands end to end, on tiny random weights."""

from __future__ import annotations

import subprocess
import sys

import av
import pytest

from personalive_core.demo_inputs import write_demo_inputs


def _run(*args):
    return subprocess.run([sys.executable, "-m", "personalive_core", *map(str, args)], capture_output=True, text=True)


def test_inspect_weights_accepts_tiny_random_weights(tiny_random_weights):
    proc = _run("inspect-weights", tiny_random_weights)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "loadable" in proc.stdout and "MISSING" not in proc.stdout
    # The tiny files leave out the position tables, which the loader computes (known harmless).
    assert "42 absent but computed by the loader" in proc.stdout


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


def test_inspect_weights_reports_networks_that_do_not_fit_together(tiny_random_weights, tmp_path):
    from safetensors.torch import save_file

    from personalive_core.models.pose_guider import PoseGuider

    root = tmp_path / "weights"
    root.mkdir()
    for sub in ("sd-image-variations-diffusers", "sd-vae-ft-mse"):
        (root / sub).symlink_to(tiny_random_weights / sub)
    (root / "personalive").mkdir()
    for f in (tiny_random_weights / "personalive").iterdir():
        if not f.name.startswith("pose_guider"):
            (root / "personalive" / f.name).symlink_to(f)
    save_file(PoseGuider(out_channels=64).state_dict(), str(root / "personalive" / "pose_guider.safetensors"))
    proc = _run("inspect-weights", root)
    assert proc.returncode == 1
    assert "MISMATCH personalive/pose_guider.pth" in proc.stdout
    assert "outputs 64 channels, but the UNet's first block is 32 wide" in proc.stdout
    assert "ok       personalive/denoising_unet.pth" in proc.stdout


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


@pytest.mark.parametrize("precision, decoder, options", [("bf16", "vae", ()), ("fp16", "vae", ("--kernels", "reference")),
                                                         ("fp32", "taesd", ()),
                                                         ("bf16", "taesd", ("--low-vram", "--compile"))])
def test_every_precision_and_decoder_gives_one_frame_per_driving_frame(tiny_random_weights, tmp_path, precision,
                                                                        decoder, options, monkeypatch):
    """(--compile captures graphs with 'aot_eager' here: inductor takes minutes to generate code on this CPU.)"""
    monkeypatch.setenv("PERSONALIVE_COMPILE_BACKEND", "aot_eager")
    portrait, video = write_demo_inputs(tmp_path, size=96, frames=5, fps=10)
    out = tmp_path / "out.mp4"
    proc = _run("animate", "--reference", portrait, "--driving", video, "--output", out, "--size", 64,
                "--weights", tiny_random_weights, "--precision", precision, "--decoder", decoder, *options)
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as container:
        assert [f.width for f in container.decode(video=0)] == [64] * 5


def test_a_missing_tiny_decoder_is_named_before_loading(tiny_random_weights, tmp_path):
    import shutil

    root = tmp_path / "weights"
    shutil.copytree(tiny_random_weights, root, ignore=shutil.ignore_patterns("taesd"))
    portrait, video = write_demo_inputs(tmp_path, size=64, frames=2)
    proc = _run("animate", "--reference", portrait, "--driving", video, "--output", tmp_path / "o.mp4",
                "--weights", root, "--size", 64, "--decoder", "taesd")
    assert proc.returncode != 0 and "madebyollin/taesd" in proc.stderr and str(root / "taesd") in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o.mp4").exists()


def test_animate_explains_bad_input(tiny_random_weights, tmp_path):
    proc = _run("animate", "--reference", tmp_path / "nope.png", "--driving", tmp_path / "nope.mp4",
                "--output", tmp_path / "o.mp4", "--weights", tiny_random_weights, "--size", 64)
    assert proc.returncode == 2 and "error:" in proc.stderr and "nope.png" in proc.stderr
    proc = _run("animate", "--reference", "a.png", "--driving", "b.mp4", "--output", "o.mp4", "--size", 64)
    assert proc.returncode == 2 and "--tiny-random-weights" in proc.stderr


def test_sigterm_keeps_the_frames_already_written(tiny_random_weights, tmp_path):
    import re
    import signal

    portrait, video = write_demo_inputs(tmp_path, size=64, frames=400, fps=25)
    out = tmp_path / "stopped.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "personalive_core", "animate", "--reference", str(portrait),
                             "--driving", str(video), "--output", str(out), "--weights", str(tiny_random_weights),
                             "--size", "64"], stderr=subprocess.PIPE, text=True)
    seen = ""
    while "frames animated" not in seen:  # progress appears once frames reach the encoder
        char = proc.stderr.read(1)
        assert char, f"animate ended before writing a frame: {seen}"
        seen += char
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, seen + rest
    written = int(re.search(r"interrupted: (\d+) frames are in", rest).group(1))
    assert 0 < written < 400
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == written


def _variable_rate_video(path, times_ms):
    from fractions import Fraction

    from personalive_core.demo_inputs import draw_face

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, ms in enumerate(times_ms):
            frame = av.VideoFrame.from_image(draw_face(64, yaw=(i % 5) / 5))
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _frame_times(path):
    with av.open(str(path)) as container:
        return [round(float(frame.time), 3) for frame in container.decode(video=0)]


def test_a_variable_frame_rate_driver_keeps_its_timing(tiny_random_weights, tmp_path):
    portrait, _ = write_demo_inputs(tmp_path, size=64, frames=1)
    driving = _variable_rate_video(tmp_path / "vfr.mp4", [0, 40, 80, 120, 400, 440, 800, 840, 880])
    out = tmp_path / "out.mp4"
    proc = _run("animate", "--reference", portrait, "--driving", driving, "--output", out,
                "--weights", tiny_random_weights, "--size", 64)
    assert proc.returncode == 0, proc.stderr
    assert _frame_times(out) == _frame_times(driving) == [0.0, 0.04, 0.08, 0.12, 0.4, 0.44, 0.8, 0.84, 0.88]


def test_a_full_disk_is_reported_with_the_frames_kept(tiny_random_weights, tmp_path, monkeypatch, capsys):
    import errno

    from personalive_core.cli import main
    from personalive_core.video_writer import VideoWriter

    portrait, video = write_demo_inputs(tmp_path, size=64, frames=10, fps=10)
    real_write, calls = VideoWriter.write, []

    def write_then_fill_the_disk(self, frames, times=None):
        calls.append(frames.shape[0])
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, frames, times)

    monkeypatch.setattr(VideoWriter, "write", write_then_fill_the_disk)
    out = tmp_path / "full.mp4"
    assert main(["animate", "--reference", str(portrait), "--driving", str(video), "--output", str(out),
                 "--weights", str(tiny_random_weights), "--size", "64"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and f"after {calls[0]} frames" in err and "Traceback" not in err
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == calls[0]
