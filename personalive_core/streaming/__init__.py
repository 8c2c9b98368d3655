"""Streaming animation, the heart of PersonaLive: driving input in, finished latents out, in windows.

Stages, in data-flow order:
  `trackers`      driving frames -> LivePortrait keypoints and face-crop motion tokens, chunk by chunk
  `conditioning`  keypoints -> pose maps -> PoseGuider features; the lead-in; `Conditioner`
  `denoiser`      one UNet call per chunk over the 4-chunk window, history keyframes, motion bank
  `noise`         where the Gaussian noise comes from (a seed, or a recording)
  `session`       `StreamSession`: the one orchestrator every entry point uses (push in, chunks out)
"""

from .conditioning import ChunkConditioning, Conditioner, LeadIn
from .noise import RecordedNoise, SeededNoise
from .session import FinishedChunk, StreamSession

__all__ = ["ChunkConditioning", "Conditioner", "FinishedChunk", "LeadIn", "RecordedNoise", "SeededNoise",
           "StreamSession"]
