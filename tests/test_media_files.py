"""Image files in any mode read as they look; video files written reproducibly, with the audio in place."""

from __future__ import annotations

import hashlib
from pathlib import Path
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from PIL import Image

from personalive_core import image_io
from personalive_core.demo_inputs import write_demo_inputs
from personalive_core.errors import InputError
from personalive_core.image_io import ALPHA_BACKGROUND, open_image
from personalive_core.video_io import VideoWriter


def test_sixteen_bit_gray_is_scaled_not_clipped_to_white(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 64).astype(np.uint16).reshape(64, 64)
    Image.fromarray(ramp).save(tmp_path / "gray16.png")
    rgb = np.asarray(open_image(tmp_path / "gray16.png"))
    assert rgb.shape == (64, 64, 3) and rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255
    assert abs(int(rgb[32, 0, 0]) - 128) <= 2  # the middle of the ramp is mid-gray


def test_transparency_is_composited_on_the_stated_background(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4] = (200, 10, 10, 255)  # top half opaque red, bottom half fully transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    rgb = np.asarray(open_image(tmp_path / "cutout.png"))
    assert tuple(rgb[0, 0]) == (200, 10, 10) and tuple(rgb[-1, -1]) == ALPHA_BACKGROUND


def test_palette_images_with_a_transparent_colour(tmp_path):
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((0, 0), 0)
    image.save(tmp_path / "pal.png", transparency=0)
    rgb = np.asarray(open_image(tmp_path / "pal.png"))
    assert tuple(rgb[0, 0]) == ALPHA_BACKGROUND and tuple(rgb[1, 1]) == (0, 255, 0)


def test_eight_bit_rgb_is_read_unchanged(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    assert np.array_equal(np.asarray(open_image(tmp_path / "rgb.png")), pixels)


def test_huge_images_are_refused_before_decoding(tmp_path, monkeypatch):
    Image.new("L", (300, 200)).save(tmp_path / "big.png")
    monkeypatch.setattr(image_io, "MAX_IMAGE_PIXELS", 50_000)
    with pytest.raises(InputError, match=r"300x200 .*limit.*Scale it down"):
        open_image(tmp_path / "big.png")


def _smooth_frames(count: int) -> torch.Tensor:
    torch.manual_seed(0)
    frames = torch.rand(count, 3, 64, 64)
    return torch.nn.functional.avg_pool2d(frames, 5, 1, 2).permute(0, 2, 3, 1)


def test_the_same_frames_give_the_same_file(tmp_path):
    frames = _smooth_frames(20)
    digests = []
    for name in ("a.mp4", "b.mp4"):
        writer = VideoWriter(tmp_path / name, Fraction(10))
        for i in range(0, 20, 4):
            writer.write(frames[i:i + 4])
        writer.close()
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_audio_can_start_after_a_lead_in(tmp_path):
    _, driving = write_demo_inputs(tmp_path, size=64, frames=30, fps=10)
    starts = {}
    for delay in (0.0, 1.2):
        out = tmp_path / f"delay{delay}.mp4"
        writer = VideoWriter(out, Fraction(10), audio_from=driving, audio_delay=delay)
        writer.write(_smooth_frames(30))
        writer.close()
        with av.open(str(out)) as container:
            audio = container.streams.audio[0]
            first = next(p for p in container.demux(audio) if p.pts is not None)
            starts[delay] = float(first.pts * audio.time_base)
    assert starts[1.2] - starts[0.0] == pytest.approx(1.2, abs=0.01)


def test_a_killed_writer_leaves_a_playable_file(tmp_path):
    """Frames reach the disk as fragments while writing: a process that dies without closing the
    writer (SIGKILL, power loss) leaves the frames up to its last keyframe, playable."""
    import subprocess
    import sys

    out = tmp_path / "killed.mp4"
    code = (
        "import os, torch\n"
        "from fractions import Fraction\n"
        "from personalive_core.video_io import VideoWriter\n"
        "torch.manual_seed(0)\n"
        "frames = torch.nn.functional.avg_pool2d(torch.rand(80, 3, 64, 64), 5, 1, 2).permute(0, 2, 3, 1)\n"
        f"writer = VideoWriter({str(out)!r}, Fraction(25))\n"
        "writer.write(frames)\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
    with av.open(str(out)) as container:
        on_disk = sum(1 for _ in container.decode(video=0))
    assert 25 <= on_disk < 80
