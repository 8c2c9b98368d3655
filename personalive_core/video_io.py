"""Reading driving videos and images frame by frame, with each frame's time (`video_writer` writes)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import torch

from .errors import InputError
from .frames import square_frame
from .image_io import open_image
from .video_writer import VideoWriter

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
STILL_FPS = Fraction(25)  # frame rate written for a single driving image
_MEDIA_ERRORS = (av.FFmpegError, EOFError, OSError, ValueError, IndexError)

__all__ = ["IMAGE_SUFFIXES", "DrivingFrames", "DrivingSource", "probe_driving", "open_image", "read_frames",
           "video_fps", "VideoWriter", "square_frame"]


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


class DrivingFrames:
    """The frames (3,S,S) in [-1,1] of a driving video or image, decoded one at a time as they are
    iterated, and `times`: when each frame read so far is shown, in seconds from the first (exact
    fractions, so a variable-frame-rate video keeps its timing). A video damaged part-way (e.g. a
    broken download) ends at the damage with a warning."""

    def __init__(self, source: DrivingSource | str | Path, size: int):
        self.source = source if isinstance(source, DrivingSource) else probe_driving(source)
        self.size = size
        self.times: list[Fraction] = []
        self._start: Fraction | None = None

    def __iter__(self) -> Iterator[torch.Tensor]:
        self.times, self._start = [], None
        if self.source.is_image:
            self.times.append(Fraction(0))
            yield square_frame(open_image(self.source.path), self.size)
            return
        with av.open(str(self.source.path)) as container:
            frames = container.decode(video=0)
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    return
                except _MEDIA_ERRORS as exc:
                    warnings.warn(f"the driving video {self.source.path} is damaged after frame {len(self.times)} "
                                  f"({exc}); animating the frames before the damage", stacklevel=2)
                    return
                self.times.append(self._time(frame))
                yield square_frame(frame.to_image(), self.size)

    def _time(self, frame) -> Fraction:
        """The frame's presentation time from the first frame's; one frame after the last when it has none."""
        if frame.pts is None or frame.time_base is None:
            return self.times[-1] + 1 / self.source.fps if self.times else Fraction(0)
        time = Fraction(frame.pts) * Fraction(frame.time_base)
        if self._start is None:
            self._start = time
        return time - self._start


def read_frames(path: str | Path, size: int) -> Iterator[torch.Tensor]:
    """Frames (3,S,S) in [-1,1] of a video or a single image, decoded one at a time (see `DrivingFrames`)."""
    return iter(DrivingFrames(path, size))

