"""`animate` writes every supported kind of output (H.264, VP9 with Opus sound, GIF, a PNG folder)
reproducibly, and refuses the others before any work starts."""

from __future__ import annotations

import hashlib
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from PIL import Image

from personalive_core.cli import main
from personalive_core.demo_inputs import write_demo_inputs
from personalive_core.errors import InputError
from personalive_core.output_path import check_output_path
from personalive_core.video_writer import VideoWriter


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_demo_inputs(tmp_path_factory.mktemp("demo"), size=64, frames=6, fps=10)


def _animate(weights, portrait, video, output) -> int:
    return main(["animate", "--reference", str(portrait), "--driving", str(video), "--output", str(output),
                 "--weights", str(weights), "--size", "64", "--seed", "5"])


def _decoded(path):
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.fixture(scope="module")
def rendered(tiny_random_weights, demo, tmp_path_factory):
    """The demo animated into a PNG folder given with a trailing '/': the reference frames of this file."""
    portrait, video = demo
    folder = tmp_path_factory.mktemp("rendered") / "frames.v1"
    assert _animate(tiny_random_weights, portrait, video, f"{folder}/") == 0
    return folder


def _pngs(folder):
    return [np.asarray(Image.open(p)) for p in sorted(folder.glob("frame_*.png"))]


def test_a_folder_output_holds_one_png_per_frame(rendered):
    assert sorted(p.name for p in rendered.iterdir()) == [f"frame_{i:06d}.png" for i in range(6)]
    assert _pngs(rendered)[0].shape == (64, 64, 3)


def test_a_name_without_suffix_is_a_folder_of_frames(tmp_path):
    assert check_output_path(tmp_path / "mp4").is_frame_folder
    assert check_output_path(tmp_path).is_frame_folder
    assert not check_output_path(tmp_path / "clip.MP4").is_frame_folder


def test_webm_end_to_end_has_vp9_frames_and_opus_sound(tiny_random_weights, demo, rendered, tmp_path):
    portrait, video = demo
    assert _animate(tiny_random_weights, portrait, video, tmp_path / "out.webm") == 0
    with av.open(str(tmp_path / "out.webm")) as container:
        assert container.streams.video[0].codec_context.name == "vp9"
        assert [s.codec_context.name for s in container.streams.audio] == ["opus"]
    frames, pngs = _decoded(tmp_path / "out.webm"), _pngs(rendered)
    assert len(frames) == len(pngs) == 6
    error = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, pngs)]
    shifted = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames[1:], pngs)]
    assert max(error) < min(shifted)  # each frame is the PNG frame of the same index, up to VP9's loss


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".mov", "h264"), (".mkv", "h264"),
                                           (".webm", "vp9"), (".gif", "gif")])
def test_every_format_is_written_reproducibly(rendered, tmp_path, suffix, codec):
    frames = torch.from_numpy(np.stack(_pngs(rendered))).float() / 255
    digests = []
    for name in ("first", "second"):
        writer = VideoWriter(tmp_path / f"{name}{suffix}", Fraction(10))
        writer.write(frames[:4])
        writer.write(frames[4:])
        writer.close()
        digests.append(hashlib.sha256((tmp_path / f"{name}{suffix}").read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    with av.open(str(tmp_path / f"first{suffix}")) as container:
        assert container.streams.video[0].codec_context.name == codec
    assert len(_decoded(tmp_path / f"first{suffix}")) == 6


def test_a_folder_with_earlier_frames_is_refused(demo, tmp_path):
    (tmp_path / "old").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "old" / "frame_000000.png")
    with pytest.raises(InputError, match="already holds 1 frames .* Empty it or choose another folder"):
        check_output_path(tmp_path / "old")


@pytest.mark.parametrize("name, message", [
    ("still.png", r"single image 'still.png'.*give a folder \(e.g. .*still/\).*still.gif"),
    ("out.avi", r"must end in one of \.mp4, \.mov, \.mkv, \.webm, \.gif or a folder for PNG frames"),
])
def test_other_outputs_are_refused_with_what_to_use(tmp_path, name, message):
    with pytest.raises(InputError, match=message):
        check_output_path(tmp_path / name)


def test_webm_sound_is_reencoded_and_follows_the_lead_in(demo, tmp_path):
    _, video = write_demo_inputs(tmp_path, size=64, frames=30, fps=10)
    frames = torch.rand(30, 64, 64, 3)
    starts = {}
    for delay in (0.0, 1.2):
        out = tmp_path / f"delay{delay}.webm"
        writer = VideoWriter(out, Fraction(10), audio_from=video, audio_delay=delay)
        writer.write(frames)
        writer.close()
        with av.open(str(out)) as container:
            audio = container.streams.audio[0]
            times = [float(p.pts * audio.time_base) for p in container.demux(audio) if p.pts is not None]
        starts[delay] = times[0]
        assert times[-1] <= 3.0 + 0.03  # no sound past the video's end
    assert starts[1.2] - starts[0.0] == pytest.approx(1.2, abs=0.01)
