"""Writing animated frames as a video file (H.264, VP9 or GIF) with the driving video's sound, progressively."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np
import torch
from PIL import Image

from .audio_track import AudioTrack

TIME_BASE = Fraction(1, 90000)  # the MPEG clock: exact for 24, 25, 30, 30000/1001 ... fps


@dataclass(frozen=True)
class VideoFormat:
    """How one kind of output file is encoded."""

    codec: str
    pix_fmt: str
    options: dict = field(default_factory=dict)
    container_options: dict = field(default_factory=dict)
    audio: str | None = "copy"  # "copy" the driving video's sound, "opus" re-encode it, None: no sound
    time_base: Fraction = TIME_BASE


_H264 = dict(codec="libx264", pix_fmt="yuv420p", options={"crf": "18"})
_FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+delay_moov"}  # playable while being written
VIDEO_FORMATS = {
    ".mp4": VideoFormat(**_H264, container_options=_FRAGMENTED),
    ".mov": VideoFormat(**_H264, container_options=_FRAGMENTED),
    ".mkv": VideoFormat(**_H264),
    ".webm": VideoFormat("libvpx-vp9", "yuv420p", {"crf": "30", "b": "0", "deadline": "good", "cpu-used": "4",
                                                    "row-mt": "0"}, audio="opus"),
    ".gif": VideoFormat("gif", "pal8", audio=None, time_base=Fraction(1, 100)),  # GIF counts in 1/100 s
}


class VideoWriter:
    """Writes RGB frames to a video as they arrive; adds the sound of `audio_from` on close, `audio_delay`
    seconds late (the lead-in's length when it is written). The suffix of `path` picks the format
    (`VIDEO_FORMATS`).

    The file is written progressively and stays playable: MP4/MOV are fragmented with a keyframe every
    second and every packet goes to disk at once, so even a killed process leaves the frames up to the
    last keyframe before the encoder's look-ahead; `close` (also after Ctrl-C or an error) keeps every
    frame. Encoding runs on one thread, so the same frames always give the same file."""

    def __init__(self, path: str | Path, fps: Fraction, audio_from: str | Path | None = None, crf: int | None = None,
                 audio_delay: float = 0.0):
        self.path = Path(path)
        self.format = VIDEO_FORMATS[self.path.suffix.lower()]
        self.fps = Fraction(fps)
        self.audio_delay = float(audio_delay)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # bitexact: no random ids or dates in the file, so the same frames give the same bytes
        muxing = {"flush_packets": "1", "fflags": "+bitexact", **self.format.container_options}
        self.container = av.open(str(self.path), mode="w", options=muxing)
        self.stream = self.container.add_stream(self.format.codec, rate=fps)
        self.stream.pix_fmt = self.format.pix_fmt
        options = dict(self.format.options, g=str(max(1, round(self.fps))))
        if crf is not None:
            options["crf"] = str(crf)
        self.stream.options = options
        self.stream.codec_context.thread_count = 1  # encoder threads change the output: keep files reproducible
        self.stream.codec_context.time_base = self.format.time_base  # fine enough for any frame time
        self._last_pts = -1
        self.audio = None
        if self.format.audio is not None:
            self.audio = AudioTrack.open(audio_from, self.container, reencode=self.format.audio == "opus")
        self.frames = 0

    def write(self, frames: torch.Tensor, times: Sequence[Fraction] | None = None) -> None:
        """Frames (k,H,W,3) in [0,1], shown at `times` (seconds; default: one frame after another at `fps`)."""
        array = (frames.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        if times is None:
            times = [Fraction(self.frames + i) / self.fps for i in range(len(array))]
        for rgb, time in zip(array, times, strict=True):
            if self.frames == 0:
                self.stream.height, self.stream.width = rgb.shape[:2]
            frame = _paletted(rgb) if self.format.pix_fmt == "pal8" else av.VideoFrame.from_ndarray(rgb, "rgb24")
            tick = self.format.time_base
            frame.pts = self._last_pts = max(round(Fraction(time) / tick), self._last_pts + 1)
            frame.time_base = tick
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
            self.frames += 1

    @property
    def duration(self) -> float:
        """Seconds of video written: up to the last frame's time plus one frame."""
        return float(max(self._last_pts, 0) * self.format.time_base + 1 / self.fps) if self.frames else 0.0

    def close(self) -> None:
        """Flush the encoder, add the sound up to the video's length, and finish the file."""
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
            if self.audio is not None and self.frames:
                self.audio.write(self.duration, self.audio_delay)
        finally:
            if self.audio is not None:
                self.audio.close()
            self.container.close()


def _paletted(rgb: np.ndarray) -> av.VideoFrame:
    """An 8-bit palette frame for GIF: the frame's own 256 colours (median cut, dithered), deterministic."""
    image = Image.fromarray(rgb).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    colours = np.zeros((256, 4), np.uint8)
    palette = np.asarray(image.getpalette()[: 256 * 3], np.uint8).reshape(-1, 3)
    colours[: len(palette), 1:] = palette
    colours[:, 0] = 255  # opaque
    return av.VideoFrame.from_ndarray((np.asarray(image), colours), format="pal8")
