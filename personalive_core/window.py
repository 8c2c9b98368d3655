"""The streaming window's geometry, defined once.

PersonaLive denoises a window of chunks, one chunk per noise level of the scheduler (999, 666, 333,
0): every UNet call adds a new chunk at the highest level and finishes the oldest. Before the first
driving chunk can leave the window, the window must already hold one chunk per lower level: those
warm-up chunks are the lead-in, frames that move from the reference pose to the first driving pose.
"""

from __future__ import annotations

from .scheduler import TIMESTEPS

CHUNK_FRAMES = 4  # frames added (and finished) by one UNet call, as the original's temporal window
WINDOW_CHUNKS = len(TIMESTEPS)  # one chunk per noise level
WINDOW_FRAMES = CHUNK_FRAMES * WINDOW_CHUNKS  # frames the denoising UNet sees per call
LEAD_IN_CHUNKS = WINDOW_CHUNKS - 1  # warm-up chunks in the window before driving chunk 0
LEAD_IN_FRAMES = CHUNK_FRAMES * LEAD_IN_CHUNKS


def chunk_count(frames: int) -> int:
    """Chunks needed for `frames` driving frames (the last one padded)."""
    return -(-frames // CHUNK_FRAMES)
