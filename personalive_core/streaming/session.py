"""The streaming session: one reference, driving input pushed in, finished latents handed out in order.

Every entry point uses it: the `animate` command and the library's `animate_frames` push driving
frames (`push_frames`), the ComfyUI sampler pushes precomputed conditioning (`start` + `push`), the
parity replay pushes recorded conditioning and restores recorded states (`load_state_dict`).

Output frame i is animated by driving frame i. A driving chunk leaves the window `LEAD_IN_CHUNKS`
pushes after it entered, so the first pushes hand out the lead-in (only with `include_lead_in`).
`finish` pads a short last chunk with its last frame, flushes the window with chunks that repeat the
last frame's conditioning, and trims the padding. Memory is bounded by the window, not by the video.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import InputError
from ..motion_controls import MotionControls
from ..window import CHUNK_FRAMES, LEAD_IN_CHUNKS
from .conditioning import ChunkConditioning, Conditioner, LeadIn
from .denoiser import StepRecord, StreamingDenoiser
from .noise import NoiseSource


@dataclass
class FinishedChunk:
    """Finished latents (k,4,h,w), scaled by 0.18215, of consecutive output frames."""

    latents: torch.Tensor
    lead_in: bool  # frames of the lead-in (reference pose -> first driving pose)
    first_frame: int  # index of the first frame among driving frames (lead-in: among the lead-in frames)


class StreamSession:
    """PersonaLive's online algorithm for one encoded reference.

    Two ways in: driving frames (`push_frames`, conditioned here chunk by chunk) or precomputed
    conditioning (`start` with the lead-in, then `push` per chunk). Both return the chunks that
    finished, possibly none; call `finish` after the last input.
    """

    def __init__(self, models, reference, noise: NoiseSource, include_lead_in: bool = False,
                 controls: MotionControls | None = None):
        self.models, self.reference, self.noise = models, reference, noise
        self.controls = controls  # shape the driver's motion (`push_frames` only; None: as the driver)
        self.include_lead_in = include_lead_in
        self.denoiser = StreamingDenoiser(models, reference, noise)
        self.record_steps = False  # keep the last push's intermediate values in `last_step`
        self.last_step: StepRecord | None = None
        self._conditioner: Conditioner | None = None
        self._waiting: list[torch.Tensor] = []  # driving frames not yet conditioned (fewer than a chunk)
        self._pending: list[int] = []  # real frame counts of driving chunks still in the window
        self._last: ChunkConditioning | None = None  # the newest driving chunk (repeated to flush)
        self._pushes = 0
        self._finished = False

    @property
    def conditioner(self) -> Conditioner:
        """The frames -> conditioning step used by `push_frames` (made on first use)."""
        if self._conditioner is None:
            self._conditioner = Conditioner(self.models, self.reference, self.controls)
        return self._conditioner

    @property
    def latency_frames(self) -> int:
        """Driving frames that have entered the session but not yet come out."""
        return len(self._waiting) + sum(self._pending)

    def start(self, lead_in: LeadIn) -> None:
        """Begin with the lead-in's conditioning (once, before the first `push`)."""
        if self.denoiser.primed:
            raise RuntimeError("the session has already started")
        self.denoiser.prime(lead_in)

    def push(self, chunk: ChunkConditioning) -> list[FinishedChunk]:
        """Add one chunk of driving conditioning; return the chunks that finished."""
        if self._finished:
            raise RuntimeError("the session has finished; open a new one")
        return self._push(chunk, real=True)

    def push_frames(self, frames: torch.Tensor) -> list[FinishedChunk]:
        """Add driving frames (k,3,S,S) or one frame (3,S,S) in [-1,1]; return the chunks that finished."""
        if self._finished:
            raise RuntimeError("the session has finished; open a new one")
        self._waiting.extend((frames[None] if frames.ndim == 3 else frames).unbind(0))
        out: list[FinishedChunk] = []
        while len(self._waiting) >= CHUNK_FRAMES:
            chunk, self._waiting = self._waiting[:CHUNK_FRAMES], self._waiting[CHUNK_FRAMES:]
            out += self._push_frames(torch.stack(chunk))
        return out

    def finish(self) -> list[FinishedChunk]:
        """Push what is left and flush the window: every driving frame has come out afterwards."""
        if self._finished:
            return []
        out = self._push_frames(torch.stack(self._waiting)) if self._waiting else []
        self._waiting = []
        if self._last is None:
            raise InputError("The driving video has no frames. Give at least one driving frame.")
        flush = self._last.repeat_last()
        for _ in range(LEAD_IN_CHUNKS):  # the newest chunk leaves the window this many pushes later
            out += self._push(flush, real=False)
        self._finished = True
        return out

    def _push_frames(self, frames: torch.Tensor) -> list[FinishedChunk]:
        conditioned = self.conditioner(frames)
        if conditioned.lead_in is not None:
            self.start(conditioned.lead_in)
        return self._push(conditioned.conditioning, real=True)

    def _push(self, chunk: ChunkConditioning, real: bool) -> list[FinishedChunk]:
        if real:
            self._pending.append(chunk.frames)
            self._last = chunk
        finished = self.denoiser.push(chunk, record=self.record_steps)
        if self.record_steps:
            finished, self.last_step = finished
        index, self._pushes = self._pushes, self._pushes + 1
        latents = finished[0].transpose(0, 1)
        if index < LEAD_IN_CHUNKS:
            return [FinishedChunk(latents, True, index * CHUNK_FRAMES)] if self.include_lead_in else []
        frames = self._pending.pop(0)
        return [FinishedChunk(latents[:frames], False, (index - LEAD_IN_CHUNKS) * CHUNK_FRAMES)]

    def state_dict(self) -> dict:
        """The whole streaming state (tensors, numbers and lists), to continue later with `load_state_dict`."""
        return {
            "denoiser": self.denoiser.state_dict(),
            "conditioner": self._conditioner.state_dict() if self._conditioner else None,
            "noise": self.noise.state_dict() if hasattr(self.noise, "state_dict") else None,
            "waiting": list(self._waiting), "pending": list(self._pending), "pushes": self._pushes,
            "last": None if self._last is None else (self._last.pose, self._last.motion, self._last.frames),
            "finished": self._finished,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state_dict()` of a session with the same models, reference and options."""
        self.denoiser.load_state_dict(state["denoiser"])
        if state["conditioner"] is not None:
            self.conditioner.load_state_dict(state["conditioner"])
        if state["noise"] is not None:
            self.noise.load_state_dict(state["noise"])
        self._waiting, self._pending = list(state["waiting"]), list(state["pending"])
        self._pushes, self._finished = int(state["pushes"]), bool(state["finished"])
        self._last = None if state["last"] is None else ChunkConditioning(*state["last"])
