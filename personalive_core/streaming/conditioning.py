"""What the denoiser is conditioned on, chunk by chunk: pose features and motion tokens.

`Conditioner` makes it from driving frames (keypoints -> pose maps -> PoseGuider features; face
crops -> motion tokens). The lead-in, the conditioning of the warm-up chunks that move from the
reference to the first driving frame, is made with the first chunk and handed out as a `LeadIn`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..motion_controls import MotionControls
from ..pose_map import render_pose_maps
from ..window import CHUNK_FRAMES, LEAD_IN_FRAMES
from .trackers import ChunkKeypoints, ChunkMotion, KeypointTracker, MotionTracker


@dataclass
class LeadIn:
    """Conditioning of the lead-in frames, and the reference's motion tokens (the motion bank's seed)."""

    pose: torch.Tensor  # (1,C,12,h,w) pose features
    motion: torch.Tensor  # (1,12,32,16) motion tokens
    reference_motion: torch.Tensor  # (1,1,32,16)

    def __post_init__(self):
        if self.pose.shape[2] != LEAD_IN_FRAMES or self.motion.shape[1] != LEAD_IN_FRAMES:
            raise ValueError(f"the lead-in needs conditioning for exactly {LEAD_IN_FRAMES} frames")


@dataclass
class ChunkConditioning:
    """Conditioning of one chunk of driving frames; `frames` of them are real, the rest padding."""

    pose: torch.Tensor  # (1,C,4,h,w) pose features
    motion: torch.Tensor  # (1,4,32,16) motion tokens
    frames: int = CHUNK_FRAMES

    def __post_init__(self):
        if self.pose.shape[2] != CHUNK_FRAMES or self.motion.shape[1] != CHUNK_FRAMES:
            raise ValueError(f"a chunk needs conditioning for exactly {CHUNK_FRAMES} frames")
        if not 1 <= self.frames <= CHUNK_FRAMES:
            raise ValueError(f"a chunk holds 1 to {CHUNK_FRAMES} real frames, not {self.frames}")

    def repeat_last(self) -> "ChunkConditioning":
        """A chunk that repeats this chunk's last real frame (flushes the stream after the last chunk)."""
        i = self.frames - 1
        return ChunkConditioning(self.pose[:, :, i:i + 1].expand(-1, -1, CHUNK_FRAMES, -1, -1),
                                 self.motion[:, i:i + 1].expand(-1, CHUNK_FRAMES, -1, -1))


def pose_features(pose_guider: torch.nn.Module, maps: torch.Tensor) -> torch.Tensor:
    """PoseGuider features of pose maps (F,3,S,S), laid out as the UNet's pose input (1,C,F,S/8,S/8)."""
    param = next(pose_guider.parameters())
    return pose_guider(maps.to(param.device, param.dtype).contiguous()).transpose(0, 1)[None]


def split_pose_features(pose_guider: torch.nn.Module, maps: torch.Tensor,
                        lead_in_maps: torch.Tensor | None = None) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(lead-in features or None, chunk features) of a chunk's pose maps. The first chunk's maps go
    through the PoseGuider in one batch with the lead-in's, as in the original (batching changes the
    last bits), so every entry point gets the same numbers."""
    if lead_in_maps is None:
        return None, pose_features(pose_guider, maps)
    both = pose_features(pose_guider, torch.cat([lead_in_maps.to(maps.device), maps]))
    return both[:, :, :LEAD_IN_FRAMES], both[:, :, LEAD_IN_FRAMES:]


def pad_to_chunks(frames: torch.Tensor, chunk: int = CHUNK_FRAMES) -> torch.Tensor:
    """Frames (N,...) padded by repeating the last one to a multiple of `chunk`."""
    missing = (-frames.shape[0]) % chunk
    return torch.cat([frames, frames[-1:].expand(missing, *frames.shape[1:])]) if missing else frames


@dataclass
class ConditionedChunk:
    """A chunk's conditioning with what it was made from (for inspection and parity checks)."""

    conditioning: ChunkConditioning
    lead_in: LeadIn | None  # first chunk only
    keypoints: ChunkKeypoints
    motion: ChunkMotion


class Conditioner:
    """Driving frames -> conditioning, one chunk at a time, for one encoded reference."""

    def __init__(self, models, reference, controls: MotionControls | None = None):
        self.models, self.size = models, reference.size
        self.keypoints = KeypointTracker(models.motion_extractor, reference.kp_input, reference.size, controls)
        self.motion = MotionTracker(models.motion_encoder, reference.image, controls)

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor) -> ConditionedChunk:
        """Condition 1 to 4 driving frames (B,3,S,S) in [-1,1]; a short chunk is padded with its last frame."""
        real = frames.shape[0]
        frames = pad_to_chunks(frames).to(self.models.device, self.models.dtype)
        kps = self.keypoints(frames)
        motion = self.motion(frames, kps)
        lead_in_maps = render_pose_maps(kps.lead_in_pose, self.size, self.size) if kps.first else None
        lead_pose, pose = split_pose_features(self.models.pose_guider, render_pose_maps(kps.pose, self.size, self.size),
                                              lead_in_maps)
        lead_in = LeadIn(lead_pose, motion.lead_in, motion.reference) if kps.first else None
        return ConditionedChunk(ChunkConditioning(pose, motion.tokens, real), lead_in, kps, motion)

    def state_dict(self) -> dict:
        return {"keypoints": self.keypoints.state_dict(), "motion": self.motion.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.keypoints.load_state_dict(state["keypoints"])
        self.motion.load_state_dict(state.get("motion", {}))
