"""Reading driving videos/images frame by frame and writing MP4s with the driving video's audio."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np
import torch
from PIL import Image

from .errors import InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


def square_frame(image: Image.Image, size: int) -> torch.Tensor:
    """Centre-crop to a square, resize to size x size, and convert to (3,S,S) float32 in [-1,1]
    (uint8 / 255 * 2 - 1, as the original's demo converts its frames)."""
    image = image.convert("RGB")
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), Image.BICUBIC)
    array = torch.from_numpy(np.asarray(image).copy())
    return (array.float() / 255.0 * 2.0 - 1.0).permute(2, 0, 1)


def open_image(path: str | Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
        return image
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read the image {path}: {exc}") from exc


def video_fps(path: str | Path) -> Fraction:
    """Frame rate of a video (25 for a still image)."""
    if Path(path).suffix.lower() in IMAGE_SUFFIXES:
        return Fraction(25)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return Fraction(stream.average_rate or stream.guessed_rate or 25)


def read_frames(path: str | Path, size: int) -> Iterator[torch.Tensor]:
    """Frames (3,S,S) in [-1,1] of a video or a single image, decoded one at a time."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Driving input not found: {path}")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        yield square_frame(open_image(path), size)
        return
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise InputError(f"Cannot open the driving video {path}: {exc}") from exc
    with container:
        if not container.streams.video:
            raise InputError(f"{path} has no video stream")
        for frame in container.decode(video=0):
            yield square_frame(frame.to_image(), size)


class VideoWriter:
    """Writes RGB frames to an H.264 MP4 as they arrive; copies the audio of `audio_from` on close."""

    def __init__(self, path: str | Path, fps: Fraction, audio_from: str | Path | None = None, crf: int = 18):
        self.path = Path(path)
        self.fps = Fraction(fps)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(self.path), mode="w")
        self.stream = self.container.add_stream("libx264", rate=fps)
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf)}
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
        for packet in self.audio_in.demux(audio):
            if packet.dts is None:
                continue
            if packet.pts is not None and float(packet.pts * audio.time_base) > duration:
                break
            packet.stream = self.audio_out
            self.container.mux(packet)
