"""A portrait and driving frames in, animated frames out: the whole pipeline as one object.

This is what the `animate` and `batch` commands run (they add reading and writing files). Frames are
fed one at a time into a `StreamSession` and decoded as soon as a chunk finishes, so memory is bounded
by the streaming window, not by the video length. `Animation.state_dict` saves everything needed to
continue later with the same output (resumable renders).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import torch
from PIL import Image

from .compiled import compile_for_streaming
from .decoding import decode_chunks, decoder_for, unscale
from .loading import PersonaLiveModels
from .motion_controls import MotionControls
from .reference import encode_reference
from .streaming import SeededNoise, StreamSession
from .streaming.noise import NoiseSource


class Animation:
    """One portrait animated frame by frame: `feed` driving frames, then `finish`; both yield output frames
    (k,S,S,3) float32 in [0,1] on the CPU, one per driving frame (after the lead-in frames with
    `include_lead_in`). Between two calls, `state_dict` captures the whole state and `frames_out` counts
    the frames yielded so far."""

    @torch.no_grad()
    def __init__(self, models: PersonaLiveModels, portrait: Image.Image, size: int = 512, seed: int = 0,
                 include_lead_in: bool = False, decode_chunk: int = 4, noise: NoiseSource | None = None,
                 controls: MotionControls | None = None, decoder: str = "vae", compile: bool = False):
        self.models, self.decode_chunk = models, decode_chunk
        self.decoder = decoder_for(models, decoder)
        if compile:
            compile_for_streaming(models, self.decoder)
        reference = encode_reference(models, portrait, size=size)
        self.session = StreamSession(models, reference, noise or SeededNoise(seed), include_lead_in=include_lead_in,
                                     controls=controls)
        self.frames_in = 0
        self.frames_out = 0

    @torch.no_grad()
    def feed(self, frame: torch.Tensor) -> Iterator[torch.Tensor]:
        """Push one driving frame (3,S,S) in [-1,1]; yield the output frames it completes (often none)."""
        self.frames_in += 1
        yield from self._decoded(self.session.push_frames(frame))

    @torch.no_grad()
    def finish(self) -> Iterator[torch.Tensor]:
        """Flush the streaming window: yield every output frame still inside."""
        yield from self._decoded(self.session.finish())

    def _decoded(self, chunks) -> Iterator[torch.Tensor]:
        for chunk in chunks:
            for frames in decode_chunks(self.decoder, unscale(chunk.latents), self.decode_chunk):
                self.frames_out += frames.shape[0]
                yield frames

    def state_dict(self) -> dict:
        """Session state and frame counts, valid once the last `feed` has been exhausted."""
        return {"session": self.session.state_dict(), "frames_in": self.frames_in, "frames_out": self.frames_out}

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state_dict()` of an animation with the same models, portrait and options."""
        self.session.load_state_dict(state["session"])
        self.frames_in, self.frames_out = int(state["frames_in"]), int(state["frames_out"])


def animate_frames(models: PersonaLiveModels, portrait: Image.Image, driving: Iterable[torch.Tensor], size: int = 512,
                   seed: int = 0, include_lead_in: bool = False, decode_chunk: int = 4,
                   noise: NoiseSource | None = None, controls: MotionControls | None = None,
                   decoder: str = "vae", compile: bool = False) -> Iterator[torch.Tensor]:
    """Yield output frames (k,S,S,3) float32 in [0,1] on the CPU, one per driving frame (3,S,S) in
    [-1,1] (after the lead-in frames with `include_lead_in`); `controls` shape the driver's motion;
    `decoder` 'vae' (exact) or 'taesd' (the tiny autoencoder of ROOT/taesd); `compile` the per-window
    networks with torch.compile (see `compiled`)."""
    animation = Animation(models, portrait, size, seed, include_lead_in, decode_chunk, noise, controls, decoder,
                          compile)
    for frame in driving:
        yield from animation.feed(frame)
    yield from animation.finish()
