"""Writing animated frames as a numbered PNG sequence in a folder (for compositing and editing tools)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

FRAME_NAME = "frame_{:06d}.png"
FRAME_GLOB = "frame_*.png"


class FrameFolderWriter:
    """Writes each frame as `frame_000000.png`, `frame_000001.png`, ... in `path` as it arrives. Every file
    is written under a temporary name and then renamed, so the folder only ever holds whole frames. The
    frames' times are not kept (a PNG sequence has no clock): the frame rate is the driving video's."""

    def __init__(self, path: str | Path, fps: Fraction, start: int = 0, compress_level: int = 6):
        self.path = Path(path)
        self.fps = Fraction(fps)
        self.compress_level = compress_level  # zlib level: 1 is fastest, 9 smallest; pixels are the same
        self.path.mkdir(parents=True, exist_ok=True)
        self.frames = start  # frames before `start` are already in the folder (a resumed render)

    def write(self, frames: torch.Tensor, times: Sequence[Fraction] | None = None) -> None:
        """Frames (k,H,W,3) in [0,1]; `times` is accepted for the writers' common interface and unused."""
        array = (frames.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        for rgb in array:
            target = self.path / FRAME_NAME.format(self.frames)
            partial = target.with_name(target.name + ".partial")
            Image.fromarray(rgb).save(partial, format="PNG", compress_level=self.compress_level)
            os.replace(partial, target)
            self.frames += 1

    def close(self) -> None:
        """Nothing is buffered: every frame is on disk as soon as `write` returns."""


def read_frame_folder(path: str | Path, count: int, batch: int = 4):
    """The first `count` frames written by a `FrameFolderWriter` in `path`, as (k,H,W,3) float in [0,1]."""
    path = Path(path)
    for first in range(0, count, batch):
        names = [path / FRAME_NAME.format(i) for i in range(first, min(first + batch, count))]
        pixels = np.stack([np.asarray(Image.open(name).convert("RGB")) for name in names])
        yield torch.from_numpy(pixels).float() / 255
