"""A portrait and driving frames in, animated frames out: the whole pipeline as one generator.

This is what the `animate` command runs (it only adds reading and writing files). Frames are pulled
from the driving iterable, pushed into a `StreamSession` and decoded as soon as a chunk finishes, so
memory is bounded by the streaming window, not by the video length.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import torch
from PIL import Image

from .decoding import decode_chunks, unscale
from .loading import PersonaLiveModels
from .reference import encode_reference
from .streaming import SeededNoise, StreamSession
from .streaming.noise import NoiseSource


@torch.no_grad()
def animate_frames(models: PersonaLiveModels, portrait: Image.Image, driving: Iterable[torch.Tensor], size: int = 512,
                   seed: int = 0, include_lead_in: bool = False, decode_chunk: int = 4,
                   noise: NoiseSource | None = None) -> Iterator[torch.Tensor]:
    """Yield output frames (k,S,S,3) float32 in [0,1] on the CPU, one per driving frame (3,S,S) in
    [-1,1] (after the lead-in frames with `include_lead_in`)."""
    reference = encode_reference(models, portrait, size=size)
    session = StreamSession(models, reference, noise or SeededNoise(seed), include_lead_in=include_lead_in)

    def decoded(chunks):
        for chunk in chunks:
            yield from decode_chunks(models.vae, unscale(chunk.latents), decode_chunk)

    for frame in driving:
        yield from decoded(session.push_frames(frame))
    yield from decoded(session.finish())
