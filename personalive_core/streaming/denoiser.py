"""The streaming window: 4 chunks of 4 frames at noise levels 0/333/666/999, one UNet call per chunk.

Each `push` adds the newest chunk (pure noise around the reference latents at t=999), runs the
denoising UNet once on all 16 frames, steps every frame one level down, and returns the oldest
chunk, now clean. Memory is constant: the window never grows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..loading import PersonaLiveModels
from ..models.unet3d import ReferenceAttention
from ..reference import ReferenceFeatures
from ..residency import KEYFRAME_NETWORKS
from ..scheduler import StreamingDDIM
from ..window import CHUNK_FRAMES, LEAD_IN_CHUNKS
from .conditioning import ChunkConditioning, LeadIn
from .noise import NoiseSource

KEYFRAME_THRESHOLD = 17.0  # motion-token distance above which a frame becomes a history keyframe
KEYFRAME_FIRST_CALL = 9  # the original starts testing from its 10th call
MAX_KEYFRAMES = 3


@dataclass
class StepRecord:
    """Intermediate values of one `push`, for comparison with recordings."""

    unet_in: torch.Tensor
    motion_in: torch.Tensor
    pose_in: torch.Tensor
    noise_pred: torch.Tensor
    prev_sample: torch.Tensor
    pred_original: torch.Tensor
    new_chunk: torch.Tensor
    min_distance: torch.Tensor | None
    keyframe_added: bool
    keyframe_features: dict[str, torch.Tensor] | None
    bank_size: int
    motion_bank: torch.Tensor
    latents_pile_after: list[torch.Tensor]


class StreamingDenoiser:
    """The original's online algorithm for one reference, fed pose features and motion tokens."""

    def __init__(self, models: PersonaLiveModels, reference: ReferenceFeatures, noise: NoiseSource,
                 max_keyframes: int = MAX_KEYFRAMES):
        self.models, self.ref, self.noise = models, reference, noise
        self.sched = StreamingDDIM()
        self.max_keyframes = max_keyframes
        self.attention = ReferenceAttention.from_features(models.denoising_unet, reference.features)
        self.timesteps = self.sched.window_timesteps(CHUNK_FRAMES, device=models.device)
        self.calls = 0
        self.latents: list[torch.Tensor] = []
        self.pose: list[torch.Tensor] = []
        self.motion: list[torch.Tensor] = []
        self.motion_bank: torch.Tensor | None = None
        self.keyframes: list[dict[str, torch.Tensor]] = []  # reference-UNet features of history keyframes
        self._start_latents()

    def _start_latents(self) -> None:
        """Three lead-in chunks: the reference latents noised to t=0, 333 and 666."""
        frames = CHUNK_FRAMES * LEAD_IN_CHUNKS
        self.latents = list(self._noised_reference(frames, self.timesteps[:frames]).split(CHUNK_FRAMES, dim=2))

    def _noised_reference(self, frames: int, timesteps: torch.Tensor) -> torch.Tensor:
        """`frames` copies of the reference latents (1,4,F,h,w) noised to `timesteps` (one noise draw)."""
        z = self.ref.latents
        copies = z[:, :, None].expand(-1, -1, frames, -1, -1).contiguous()
        return self.sched.add_noise(copies, self.noise.draw(tuple(copies.shape), z.dtype, z.device), timesteps)

    @property
    def primed(self) -> bool:
        return self.motion_bank is not None

    def prime(self, lead_in: LeadIn) -> None:
        """Fill the window's warm-up chunks with the lead-in's conditioning."""
        self.pose = list(lead_in.pose.split(CHUNK_FRAMES, dim=2))
        self.motion = list(lead_in.motion.split(CHUNK_FRAMES, dim=1))
        self.motion_bank = lead_in.reference_motion

    @torch.no_grad()
    def push(self, chunk: ChunkConditioning, record: bool = False):
        """Add one chunk's conditioning; return the finished oldest chunk's latents (1,4,4,h,w), scaled
        by 0.18215, and a `StepRecord` if `record`."""
        if not self.primed:
            raise RuntimeError("call prime() with the lead-in conditioning before the first push()")
        models, z = self.models, self.ref.latents
        self.pose.append(chunk.pose)
        self.motion.append(chunk.motion)
        new_chunk = self._noised_reference(CHUNK_FRAMES, self.timesteps[-1:])
        self.latents.append(new_chunk)
        motion_window = torch.cat(self.motion, dim=1)
        accept, min_distance = False, None
        if self.calls >= KEYFRAME_FIRST_CALL:
            accept, min_distance = self._test_keyframe(motion_window)
        sample = torch.cat(self.latents, dim=2)
        pose_window = torch.cat(self.pose, dim=2)
        eps = models.denoising_unet(sample, self.timesteps, self.ref.clip_tokens, motion_window, pose_window,
                                    self.attention)
        frames = sample[0].transpose(0, 1)
        x_prev, x0 = self.sched.step(eps[0].transpose(0, 1).float(), self.timesteps, frames.float())
        window = torch.cat([x0[:CHUNK_FRAMES], x_prev[CHUNK_FRAMES:]]).to(z.dtype).transpose(0, 1)[None]
        keyframe_features = None
        if accept and self.attention.num_keyframes < self.max_keyframes:
            keyframe = x0[0:1].to(z.dtype)
            with models.residency.borrow(models, KEYFRAME_NETWORKS):
                keyframe_features = models.reference_unet.write_features(keyframe, self.ref.clip_tokens)
            self.attention.add_keyframe(keyframe_features)
            self.keyframes.append(keyframe_features)
        chunks = list(window.split(CHUNK_FRAMES, dim=2))
        finished, self.latents = chunks[0], chunks[1:]
        self.pose.pop(0)
        self.motion.pop(0)
        self.calls += 1
        if not record:
            return finished
        return finished, StepRecord(sample, motion_window, pose_window, eps, x_prev, x0, new_chunk, min_distance,
                                    keyframe_features is not None, keyframe_features,
                                    self.motion_bank.shape[1], self.motion_bank, list(self.latents))

    def state_dict(self) -> dict:
        """Everything that changes while streaming (the reference and the noise source excepted)."""
        return {"calls": self.calls, "latents": list(self.latents), "pose": list(self.pose),
                "motion": list(self.motion), "motion_bank": self.motion_bank, "keyframes": list(self.keyframes)}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a `state_dict()` (of a denoiser with the same models and reference)."""
        self.calls = int(state["calls"])
        self.latents, self.pose, self.motion = list(state["latents"]), list(state["pose"]), list(state["motion"])
        self.motion_bank = state["motion_bank"]
        self.keyframes = list(state["keyframes"])
        self.attention = ReferenceAttention.from_features(self.models.denoising_unet, self.ref.features)
        for features in self.keyframes:
            self.attention.add_keyframe(features)

    def _test_keyframe(self, motion_window: torch.Tensor) -> tuple[bool, torch.Tensor]:
        """Is window frame 0 farther than the threshold from every motion-bank entry? Grows the bank."""
        tokens = motion_window[0].flatten(1).float()
        bank = self.motion_bank[0].flatten(1).float()
        min_distance = torch.cdist(tokens, bank, p=2).min(dim=1).values
        accept = bool(min_distance[0] > KEYFRAME_THRESHOLD)
        if accept:
            self.motion_bank = torch.cat([self.motion_bank, motion_window[:, 0:1]], dim=1)
        return accept, min_distance
