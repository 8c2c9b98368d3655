"""Writing animated frames as an H.264 video with the driving video's audio, progressively."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import torch

TIME_BASE = Fraction(1, 90000)  # the MPEG clock: exact for 24, 25, 30, 30000/1001 ... fps


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
        self.stream.codec_context.time_base = TIME_BASE  # fine enough for any frame time (variable frame rates)
        self._last_pts = -1
        self.audio_in = self._open_audio(audio_from)
        self.audio_out = self.container.add_stream_from_template(self.audio_in.streams.audio[0]) if self.audio_in else None
        self.frames = 0

    @staticmethod
    def _open_audio(source):
        """The container of `source` when it has an audio stream (images and silent videos have none)."""
        if source is None:
            return None
        try:
            container = av.open(str(source))
        except (av.FFmpegError, OSError):
            return None
        if container.streams.audio:
            return container
        container.close()
        return None

    def write(self, frames: torch.Tensor, times: Sequence[Fraction] | None = None) -> None:
        """Frames (k,H,W,3) in [0,1], shown at `times` (seconds; default: one frame after another at `fps`)."""
        array = (frames.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        if times is None:
            times = [Fraction(self.frames + i) / self.fps for i in range(len(array))]
        for rgb, time in zip(array, times, strict=True):
            if self.frames == 0:
                self.stream.height, self.stream.width = rgb.shape[:2]
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = self._last_pts = max(round(Fraction(time) / TIME_BASE), self._last_pts + 1)
            frame.time_base = TIME_BASE
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
            self.frames += 1

    @property
    def duration(self) -> float:
        """Seconds of video written: up to the last frame's time plus one frame."""
        return float(max(self._last_pts, 0) * TIME_BASE + 1 / self.fps) if self.frames else 0.0

    def close(self) -> None:
        """Flush the encoder, copy the audio up to the video's length, and finish the file."""
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
            if self.audio_in is not None and self.frames:
                self._copy_audio(self.duration)
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
