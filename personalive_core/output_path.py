"""Checking where a video will be written, before any work starts, so that a run never fails at the
end and never overwrites one of its own inputs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .errors import InputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")  # H.264 video, the driving video's audio copied


def check_output_path(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """`path` as a Path when a video can be written there; raises `InputError` saying why not."""
    path = Path(path).expanduser()
    supported = ", ".join(VIDEO_SUFFIXES)
    if path.is_dir():
        raise InputError(f"The output {path} is a folder; give a file name in it, e.g. {path / 'animated.mp4'}")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(
            f"Cannot write {path.name!r}: the output must end in one of {supported} (H.264 video with the driving "
            f"video's audio), e.g. {path.with_suffix('.mp4').name}."
        )
    for given in inputs:
        if _same_file(path, Path(given).expanduser()):
            raise InputError(
                f"The output {path} is one of the inputs ({given}); writing it would destroy that input. "
                "Choose another output name."
            )
    parent = _nearest_existing(path.parent)
    if not parent.is_dir():
        raise InputError(f"Cannot write {path}: {parent} is a file, not a folder.")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"Cannot write {path}: the file exists and is read-only. Choose another output name.")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"Cannot write {path}: no permission to create files in {parent}. Choose another folder.")
    return path


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
