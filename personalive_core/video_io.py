"""Reading driving videos/images frame by frame and writing videos with the driving video's audio."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import torch
from PIL import Image

from .errors import InputError
from .frames import square_frame
from .image_io import open_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
STILL_FPS = Fraction(25)  # frame rate written for a single driving image
_MEDIA_ERRORS = (av.FFmpegError, EOFError, OSError, ValueError, IndexError)

__all__ = ["IMAGE_SUFFIXES", "DrivingSource", "probe_driving", "open_image", "read_frames", "video_fps", "VideoWriter",
           "square_frame"]


@dataclass(frozen=True)
class DrivingSource:
    """A driving input that was checked to be readable: a video with a first frame, or an image."""

    path: Path
    is_image: bool
    fps: Fraction


def probe_driving(path: str | Path) -> DrivingSource:
    """Check that `path` is a readable driving image or video (its first frame decodes), in well under a
    second; raises `InputError` saying what is wrong and what to do."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Driving input not found: {path}")
    if not path.is_file():
        raise InputError(f"The driving input {path} is not a file; give a video (.mp4, .mov, ...) or an image")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        open_image(path)
        return DrivingSource(path, True, STILL_FPS)
    advice = "Re-export it (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`) or give another file."
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"The driving input {path} has no video stream (audio only?). {advice}")
            stream = container.streams.video[0]
            fps = Fraction(stream.average_rate or stream.guessed_rate or STILL_FPS)
            if next(container.decode(video=0), None) is None:
                raise InputError(f"The driving video {path} holds no decodable frame. {advice}")
    except InputError:
        raise
    except _MEDIA_ERRORS as exc:
        raise InputError(f"Cannot read the driving video {path}: {exc}. {advice}") from None
    return DrivingSource(path, False, fps)


def video_fps(path: str | Path) -> Fraction:
    """Frame rate of a video (25 for a still image)."""
    return probe_driving(path).fps


def read_frames(path: str | Path, size: int) -> Iterator[torch.Tensor]:
    """Frames (3,S,S) in [-1,1] of a video or a single image, decoded one at a time. A video damaged
    part-way (e.g. a broken download) ends at the damage with a warning."""
    source = probe_driving(path)
    if source.is_image:
        yield square_frame(open_image(source.path), size)
        return
    with av.open(str(source.path)) as container:
        frames = container.decode(video=0)
        count = 0
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except _MEDIA_ERRORS as exc:
                warnings.warn(f"the driving video {source.path} is damaged after frame {count} ({exc}); "
                              f"animating the {count} frames before the damage", stacklevel=2)
                return
            count += 1
            yield square_frame(frame.to_image(), size)


class VideoWriter:
    """Writes RGB frames to an H.264 video as they arrive; copies the audio of `audio_from` on close,
    `audio_delay` seconds late (the lead-in's length when it is written).

    The file is written progressively and stays playable: MP4/MOV are fragmented with a keyframe every
    second and every packet goes to disk at once, so even a killed process leaves the frames up to the
    last keyframe before the encoder's look-ahead; `close` (also after Ctrl-C or an error) keeps every
    frame. Encoding runs on one thread, so the same frames always give the same file."""

    def __init__(self, path: str | Path, fps: Fraction, audio_from: str | Path | None = None, crf: int = 18,
                 audio_delay: float = 0.0):
        self.path = Path(path)
        self.fps = Fraction(fps)
        self.audio_delay = float(audio_delay)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = {"flush_packets": "1"}
        if self.path.suffix.lower() in (".mp4", ".mov"):
            options["movflags"] = "frag_keyframe+empty_moov+delay_moov"
        self.container = av.open(str(self.path), mode="w", options=options)
        self.stream = self.container.add_stream("libx264", rate=fps)
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "g": str(max(1, round(self.fps)))}
        self.stream.codec_context.thread_count = 1  # x264's thread count changes its output: keep files reproducible
        self.audio_in = self._open_audio(audio_from)
        self.audio_out = self.container.add_stream_from_template(self.audio_in.streams.audio[0]) if self.audio_in else None
        self.frames = 0

    @staticmethod
    def _open_audio(source):
        if source is None or Path(source).suffix.lower() in IMAGE_SUFFIXES:
            return None
        container = av.open(str(source))
        if container.streams.audio:
            return container
        container.close()
        return None

    def write(self, frames: torch.Tensor) -> None:
        """Frames (k,H,W,3) in [0,1]."""
        array = (frames.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        for rgb in array:
            if self.frames == 0:
                self.stream.height, self.stream.width = rgb.shape[:2]
            for packet in self.stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                self.container.mux(packet)
            self.frames += 1

    def close(self) -> None:
        """Flush the encoder, copy the audio up to the video's length, and finish the file."""
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
            if self.audio_in is not None and self.frames:
                self._copy_audio(self.frames / float(self.fps))
        finally:
            if self.audio_in is not None:
                self.audio_in.close()
            self.container.close()

    def _copy_audio(self, duration: float) -> None:
        audio = self.audio_in.streams.audio[0]
        shift = round(self.audio_delay / audio.time_base) if self.audio_delay else 0
        for packet in self.audio_in.demux(audio):
            if packet.dts is None:
                continue
            if packet.pts is not None and float(packet.pts * audio.time_base) + self.audio_delay > duration:
                break
            if shift:
                packet.pts = None if packet.pts is None else packet.pts + shift
                packet.dts += shift
            packet.stream = self.audio_out
            self.container.mux(packet)
