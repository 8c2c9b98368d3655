"""Checking where the animation will be written, before any work starts, so that a run never fails at the
end and never overwrites one of its own inputs; then opening the writer for that kind of output."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable

from .errors import InputError
from .frame_folder import FRAME_GLOB, FrameFolderWriter
from .video_writer import VIDEO_FORMATS, VideoWriter

STILL_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
SUPPORTED = ", ".join(VIDEO_FORMATS) + " or a folder for PNG frames"


@dataclass(frozen=True)
class OutputTarget:
    """A checked output: a video file (`VIDEO_FORMATS`) or a folder of numbered PNG frames."""

    path: Path
    is_frame_folder: bool

    @property
    def has_sound(self) -> bool:
        return not self.is_frame_folder and VIDEO_FORMATS[self.path.suffix.lower()].audio is not None

    @property
    def needs_even_size(self) -> bool:
        """H.264 and VP9 (4:2:0) need even frame sizes; GIF and PNG frames take any."""
        return not self.is_frame_folder and VIDEO_FORMATS[self.path.suffix.lower()].pix_fmt == "yuv420p"

    def open(self, fps: Fraction, audio_from: str | Path | None = None, audio_delay: float = 0.0):
        """The writer for this output (`write(frames, times)`, `frames`, `close()`)."""
        if self.is_frame_folder:
            return FrameFolderWriter(self.path, fps)
        return VideoWriter(self.path, fps, audio_from=audio_from, audio_delay=audio_delay)


def progress_folder(output: str | Path) -> Path:
    """Where a resumable render of `output` keeps its frames and checkpoint: `OUTPUT.resume/` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".resume")


def check_output_path(path: str | Path, inputs: Iterable[str | Path] = (), resuming: bool = False) -> OutputTarget:
    """Where the animation can be written: a video file by its suffix, or a folder of PNG frames (an existing
    folder, a name ending in '/', or a name with no suffix). A folder of PNG frames may already hold
    frames only when `resuming` a render of it. Raises `InputError` saying why not."""
    text = str(path)
    path = Path(path).expanduser()
    as_folder = path.is_dir() or text.endswith(("/", os.sep)) or not path.suffix
    if not as_folder:
        _check_video_suffix(path)
    for given in inputs:
        if _same_file(path, Path(given).expanduser()):
            raise InputError(
                f"The output {path} is one of the inputs ({given}); writing it would destroy that input. "
                "Choose another output name."
            )
    parent = _nearest_existing(path if as_folder else path.parent)
    if not parent.is_dir():
        raise InputError(f"Cannot write {path}: {parent} is a file, not a folder.")
    if as_folder:
        if not (resuming and progress_folder(path).is_dir()):
            _check_frame_folder(path)
        target = path if path.exists() else parent
        if not os.access(target, os.W_OK | os.X_OK):
            raise InputError(f"Cannot write PNG frames into {path}: no permission to create files in {target}.")
        return OutputTarget(path, is_frame_folder=True)
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"Cannot write {path}: the file exists and is read-only. Choose another output name.")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"Cannot write {path}: no permission to create files in {parent}. Choose another folder.")
    return OutputTarget(path, is_frame_folder=False)


def _check_video_suffix(path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix in VIDEO_FORMATS:
        return
    if suffix in STILL_IMAGE_SUFFIXES:
        raise InputError(
            f"Cannot write the animation to the single image {path.name!r}. For PNG frames give a folder "
            f"(e.g. {path.with_suffix('')}/), for an animated image {path.with_suffix('.gif').name}."
        )
    raise InputError(
        f"Cannot write {path.name!r}: the output must end in one of {SUPPORTED} "
        f"(e.g. {path.with_suffix('.mp4').name} or {path.with_suffix('')}/)."
    )


def _check_frame_folder(path: Path) -> None:
    """A folder that already holds frames of another render would end up with a mix of both: refused."""
    if path.is_dir():
        earlier = sorted(path.glob(FRAME_GLOB))
        if earlier:
            raise InputError(
                f"The folder {path} already holds {len(earlier)} frames ({earlier[0].name} ...) from an earlier "
                "render. Empty it or choose another folder."
            )


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _nearest_existing(folder: Path) -> Path:
    """`folder` or its closest ancestor that exists (the folders in between are created when writing)."""
    folder = folder.resolve()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
