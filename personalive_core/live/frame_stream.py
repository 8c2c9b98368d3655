"""One camera frame in, one animated frame out, for runners that execute a whole graph once per frame
(comfystream and the like).

The stream answers a frame a few windows after it went in (`Animation` works in 4-frame windows), so
`FrameStream.step` hands back the oldest animated frame not yet returned. Until the first window comes
out it returns the reference portrait itself (`animated` False). From then on every step returns the
next frame: step i returns the output for input i - delay, where delay is the number of warm-up steps,
and those frames equal the offline pipeline's for the same inputs and seed.
"""

from __future__ import annotations

import collections

import numpy as np
import torch
from PIL import Image

from ..animate import Animation
from ..checks import check_portrait, check_size
from ..frames import square_frame
from ..loading import PersonaLiveModels
from ..motion_controls import MotionControls


class FrameStream:
    """`step(picture)` -> (frame (S,S,3) float32 in [0,1] on the CPU, animated)."""

    def __init__(self, models: PersonaLiveModels, portrait: Image.Image, size: int = 512, seed: int = 42,
                 controls: MotionControls = MotionControls()):
        check_size(size)
        portrait = check_portrait(portrait)
        self.size = size
        self.animation = Animation(models, portrait, size=size, seed=seed, controls=controls)
        stretched = portrait.convert("RGB").resize((size, size), Image.BICUBIC)
        self.placeholder = torch.from_numpy(np.asarray(stretched, np.float32) / 255.0)
        self._ready: collections.deque[torch.Tensor] = collections.deque()
        self.steps = 0
        self.delay: int | None = None  # warm-up steps, known once the first animated frame is out

    def step(self, picture: Image.Image) -> tuple[torch.Tensor, bool]:
        """Feed one driving frame (any size; centre-cropped to a square); return one frame."""
        for batch in self.animation.feed(square_frame(picture, self.size)):
            self._ready.extend(batch)
        self.steps += 1
        if not self._ready:
            return self.placeholder, False
        if self.delay is None:
            self.delay = self.steps - 1
        return self._ready.popleft(), True
