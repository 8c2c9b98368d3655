"""Offline entry point: a portrait and any number of driving frames -> one output frame per driving frame.

The original streams with a 12-frame delay and drops the last 12 frames unless more input follows;
here a short last chunk is padded with its last frame, the stream is flushed with three chunks that
repeat the last frame's conditioning, and the padding is trimmed, so output frame i is animated by
driving frame i. Frames are pulled from the input and handed out as
they are produced: memory is bounded by the 16-frame window, not by the video length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import torch

from ..errors import InputError
from ..keypoints import LEAD_IN_FRAMES
from ..loading import PersonaLiveModels
from ..reference import ReferenceFeatures
from .conditioning import KeypointTracker, MotionTracker, pad_to_chunks, pose_features, pose_maps_for
from .denoiser import CHUNK, WINDOW_CHUNKS, StreamingDenoiser
from .noise import NoiseSource


@dataclass
class LatentChunk:
    """Finished latents (k,4,h,w), scaled by 0.18215; `lead_in` marks the 12 reference-to-driver frames."""

    latents: torch.Tensor
    lead_in: bool
    first_frame: int  # index of the first frame among driving frames (lead-in: among the 12 lead-in frames)


def _chunks(frames: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
    """Group frames (3,S,S) into chunks of 4; the last chunk may be shorter."""
    chunk: list[torch.Tensor] = []
    for frame in frames:
        chunk.append(frame)
        if len(chunk) == CHUNK:
            yield torch.stack(chunk)
            chunk = []
    if chunk:
        yield torch.stack(chunk)


class LatentStream:
    """Runs the streaming denoiser over per-chunk conditioning and yields finished latents in order.

    Conditioning comes either from driving frames (`run`, computing keypoints and motion chunk by
    chunk) or precomputed (`prime` + `run_conditioning`, as the ComfyUI nodes do).
    """

    def __init__(self, models: PersonaLiveModels, reference: ReferenceFeatures, noise: NoiseSource):
        self.models, self.ref = models, reference
        self.denoiser = StreamingDenoiser(models, reference, noise)

    def prime(self, lead_in_pose: torch.Tensor, lead_in_motion: torch.Tensor, reference_motion: torch.Tensor) -> None:
        """Conditioning of the 12 lead-in frames (see `StreamingDenoiser.prime`)."""
        self.denoiser.prime(lead_in_pose, lead_in_motion, reference_motion)

    def run_conditioning(self, chunks: Iterable[tuple[torch.Tensor, torch.Tensor, int]],
                         include_lead_in: bool = False) -> Iterator[LatentChunk]:
        """Push (pose features (1,C,4,h,w), motion tokens (1,4,32,16), valid frames) chunks; yield one
        latent frame per valid driving frame. The stream is flushed with the last frame's conditioning."""
        pending: list[int] = []  # valid frame counts of pushed driving chunks not yet finished
        pushes, last = 0, None
        for pose, tokens, valid in chunks:
            pending.append(valid)
            last = (pose[:, :, valid - 1:valid], tokens[:, valid - 1:valid])
            yield from self._emit(self.denoiser.push(pose, tokens), pushes, pending, include_lead_in)
            pushes += 1
        if last is None:
            raise InputError("The driving video has no frames. Give at least one driving frame.")
        pose, tokens = last[0].expand(-1, -1, CHUNK, -1, -1), last[1].expand(-1, CHUNK, -1, -1)
        for _ in range(WINDOW_CHUNKS - 1):  # the last real chunk leaves the window 3 pushes later
            yield from self._emit(self.denoiser.push(pose, tokens), pushes, pending, include_lead_in)
            pushes += 1

    def run(self, frames: Iterable[torch.Tensor], include_lead_in: bool = False) -> Iterator[LatentChunk]:
        """Yield finished latents for driving frames (3,S,S) in [-1,1], pulled one chunk at a time."""
        conditioner = FrameConditioner(self.models, self.ref)

        def conditioning():
            for chunk in _chunks(frames):
                pose, tokens, lead_in = conditioner(pad_to_chunks(chunk, CHUNK))
                if lead_in is not None:
                    self.prime(*lead_in)
                yield pose, tokens, chunk.shape[0]

        yield from self.run_conditioning(conditioning(), include_lead_in)

    @staticmethod
    def _emit(finished, index, pending, include_lead_in):
        """The output of push number `index`: a lead-in chunk, or the oldest pending driving chunk."""
        finished = finished[0].transpose(0, 1)
        lead_in_chunks = WINDOW_CHUNKS - 1
        if index < lead_in_chunks:
            if include_lead_in:
                yield LatentChunk(finished, True, index * CHUNK)
            return
        valid = pending.pop(0)
        yield LatentChunk(finished[:valid], False, (index - lead_in_chunks) * CHUNK)


class FrameConditioner:
    """Driving frames -> pose features and motion tokens, chunk by chunk (the original's batching)."""

    def __init__(self, models: PersonaLiveModels, reference: ReferenceFeatures):
        self.models, self.ref = models, reference
        self.keypoints = KeypointTracker(models.motion_extractor, reference.kp_input, reference.size)
        self.motion = MotionTracker(models.motion_encoder, reference.image)

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor):
        """Returns (pose features (1,C,4,h,w), tokens (1,4,32,16), lead-in conditioning or None)."""
        device, dtype = self.models.device, self.models.dtype
        frames = frames.to(device, dtype)
        kps = self.keypoints(frames)
        _, tokens = self.motion(frames, kps)
        pose = pose_features(self.models.pose_guider, pose_maps_for(kps, self.ref.size))
        if kps.reference_box is None:
            return pose, tokens, None
        lead_in = (pose[:, :, :LEAD_IN_FRAMES], tokens[:, :LEAD_IN_FRAMES], self.motion.reference_tokens)
        return pose[:, :, LEAD_IN_FRAMES:], tokens[:, LEAD_IN_FRAMES:], lead_in
