"""The functions the ComfyUI nodes call: whole IMAGE batches in, whole results out.

Images are ComfyUI IMAGE tensors (B,H,W,3) float in [0,1]. Driving frames are centre-cropped to a
square and resized to the working size; the reference is stretched as the original does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from .decoding import decode_all, load_tiny_decoder, unscale
from .errors import InputError, PersonaLiveError
from .keypoints import LEAD_IN_FRAMES
from .loading import PersonaLiveModels, load_models
from .pose_map import render_pose_maps as _render
from .reference import ReferenceFeatures, encode_reference as _encode_reference, keypoint_view
from .streaming.animate import LatentStream
from .streaming.conditioning import ChunkKeypoints, KeypointTracker, MotionTracker, pad_to_chunks, pose_features
from .streaming.denoiser import CHUNK
from .streaming.noise import SeededNoise
from .video_io import square_frame
from .weights.official import OFFICIAL_FILES, OfficialFile

__all__ = [
    "PersonaLiveModels", "load_models", "missing_files", "DrivingKeypoints", "extract_keypoints", "render_pose_maps",
    "ReferenceFeatures", "encode_reference", "MotionTokens", "encode_motion", "sample", "decode_latents",
    "Interrupted", "make_tiny_weights",
]


class Interrupted(PersonaLiveError):
    """Raised by `sample` when `should_stop` returns True (between windows)."""


def missing_files(root: str | Path) -> list[OfficialFile]:
    """Official files not present under `root`."""
    root = Path(root).expanduser()
    return [f for f in OFFICIAL_FILES if f.find(root) is None]


def _to_pil(image: torch.Tensor) -> Image.Image:
    """One IMAGE (H,W,3) in [0,1] -> PIL RGB (uint8 by rounding)."""
    array = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(np.ascontiguousarray(array))


def _check_batch(name: str, images: torch.Tensor) -> None:
    if images.ndim != 4 or images.shape[-1] not in (3, 4):
        raise InputError(f"{name} must be an IMAGE batch (frames, height, width, 3); got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise InputError(f"{name} is empty: give at least one frame")


def _check_size(size: int) -> None:
    if size % 64 or size < 64:
        raise InputError(f"The working size must be a multiple of 64 (512 as trained); got {size}")


def _driving_frames(driving: torch.Tensor, size: int) -> torch.Tensor:
    """(N,H,W,3) [0,1] -> (N,3,S,S) [-1,1], padded by repeating the last frame to a multiple of 4."""
    return pad_to_chunks(torch.stack([square_frame(_to_pil(f[..., :3]), size) for f in driving]), CHUNK)


@dataclass
class DrivingKeypoints:
    """Keypoints of a driving clip, chunk by chunk (the last chunk padded), with the lead-in in chunk 0."""

    chunks: list[ChunkKeypoints]
    num_frames: int
    size: int
    crop_method: str = "keypoints"

    def pose(self, include_lead_in: bool = True) -> torch.Tensor:
        kps = torch.cat([c.pose for c in self.chunks])
        return kps[: LEAD_IN_FRAMES + self.num_frames] if include_lead_in else kps[LEAD_IN_FRAMES: LEAD_IN_FRAMES + self.num_frames]

    @property
    def boxes(self) -> torch.Tensor:
        return torch.cat([c.boxes for c in self.chunks])[: self.num_frames]

    def to(self, device) -> "DrivingKeypoints":
        return DrivingKeypoints([c.to(device) for c in self.chunks], self.num_frames, self.size, self.crop_method)


@torch.no_grad()
def extract_keypoints(models: PersonaLiveModels, reference: torch.Tensor, driving: torch.Tensor,
                      crop_method: str = "keypoints", size: int = 512) -> DrivingKeypoints:
    """LivePortrait keypoints of every driving frame and the lead-in from the reference pose."""
    _check_batch("reference", reference)
    _check_batch("driving", driving)
    _check_size(size)
    if crop_method not in ("keypoints", "mediapipe"):
        raise InputError(f"crop_method must be 'keypoints' or 'mediapipe', got {crop_method!r}")
    from .models.clip_vae import vae_pixels

    device, dtype = models.device, models.dtype
    portrait = _to_pil(reference[0, ..., :3])
    kp_input = keypoint_view(portrait).to(device, dtype)
    tracker = KeypointTracker(models.motion_extractor, kp_input, size)
    frames = _driving_frames(driving, size)
    chunks = [tracker(frames[i:i + CHUNK].to(device, dtype)) for i in range(0, frames.shape[0], CHUNK)]
    if crop_method == "mediapipe":  # as the original's offline mode: face-mesh boxes, the reference's too
        from .face_mesh import face_mesh_boxes

        boxes = face_mesh_boxes(frames)
        for i, chunk in enumerate(chunks):
            chunk.boxes = boxes[i * CHUNK:(i + 1) * CHUNK]
        chunks[0].reference_box = face_mesh_boxes(vae_pixels(portrait, size))
    return DrivingKeypoints(chunks, driving.shape[0], size, crop_method)


def render_pose_maps(kps: DrivingKeypoints, include_lead_in: bool = True) -> torch.Tensor:
    """Pose maps as an IMAGE batch (12+N or N, S, S, 3) in [0,1]."""
    pose = kps.pose(include_lead_in).float()
    return _render(pose, kps.size, kps.size).permute(0, 2, 3, 1).cpu()


@torch.no_grad()
def encode_reference(models: PersonaLiveModels, reference: torch.Tensor, size: int = 512) -> ReferenceFeatures:
    """CLIP embedding, VAE latents and reference-UNet features of the first reference image."""
    _check_batch("reference", reference)
    _check_size(size)
    return _encode_reference(models, _to_pil(reference[0, ..., :3]), size)


@dataclass
class MotionTokens:
    """Motion tokens (12 lead-in + padded driving frames, 32, 16) and the reference's (1,32,16)."""

    tokens: torch.Tensor
    reference: torch.Tensor
    num_frames: int

    def to(self, device) -> "MotionTokens":
        return MotionTokens(self.tokens.to(device), self.reference.to(device), self.num_frames)


@torch.no_grad()
def encode_motion(models: PersonaLiveModels, reference: torch.Tensor, driving: torch.Tensor,
                  kps: DrivingKeypoints) -> MotionTokens:
    """Motion tokens of every driving frame from its face crop (the boxes in `kps`)."""
    _check_batch("reference", reference)
    _check_batch("driving", driving)
    if driving.shape[0] != kps.num_frames:
        raise InputError(f"The driving batch has {driving.shape[0]} frames but the keypoints were extracted from "
                         f"{kps.num_frames}; connect the same driving images to both nodes.")
    from .models.clip_vae import vae_pixels

    device, dtype = models.device, models.dtype
    ref_image = vae_pixels(_to_pil(reference[0, ..., :3]), kps.size)[0].to(device, dtype)
    tracker = MotionTracker(models.motion_encoder, ref_image)
    frames = _driving_frames(driving, kps.size)
    tokens = [tracker(frames[i * CHUNK:(i + 1) * CHUNK].to(device, dtype), c)[1] for i, c in enumerate(kps.chunks)]
    return MotionTokens(torch.cat(tokens, dim=1)[0], tracker.reference_tokens[0], kps.num_frames)


def _chunk_conditioning(models, pose_maps, tokens, num_frames):
    """Yield (pose features, tokens, valid) per chunk; the last chunk padded by repeating its last frame."""
    dtype, device = models.dtype, models.device
    for start in range(0, num_frames, CHUNK):
        valid = min(CHUNK, num_frames - start)
        idx = [min(start + i, num_frames - 1) + LEAD_IN_FRAMES for i in range(CHUNK)]
        pose = pose_features(models.pose_guider, pose_maps[idx].permute(0, 3, 1, 2))
        yield pose, tokens[idx][None].to(device, dtype), valid


@torch.no_grad()
def sample(models: PersonaLiveModels, reference: ReferenceFeatures, pose_maps: torch.Tensor, motion: MotionTokens,
           seed: int = 0, include_lead_in: bool = False,
           on_window: Callable[[int, int, torch.Tensor], None] | None = None,
           should_stop: Callable[[], bool] | None = None) -> torch.Tensor:
    """Latents (F,4,S/8,S/8), raw VAE scale (ComfyUI's LATENT convention), one per driving frame
    (plus the 12 lead-in frames first with `include_lead_in`)."""
    _check_batch("pose_maps", pose_maps)
    num_frames = pose_maps.shape[0] - LEAD_IN_FRAMES
    if num_frames != motion.num_frames:
        raise InputError(
            f"Frame counts differ: {pose_maps.shape[0]} pose maps (12 lead-in + {num_frames} driving) but motion "
            f"tokens for {motion.num_frames} driving frames. Render the pose maps with the lead-in included, "
            "from the same keypoints as the motion tokens."
        )
    if pose_maps.shape[1:3] != (reference.size, reference.size):
        raise InputError(f"Pose maps are {pose_maps.shape[2]}x{pose_maps.shape[1]} but the reference was encoded at "
                         f"{reference.size}x{reference.size}; use the same size in both nodes.")
    device, dtype = models.device, models.dtype
    reference = reference.to(device)
    stream = LatentStream(models, reference, SeededNoise(seed))
    lead_pose = pose_features(models.pose_guider, pose_maps[:LEAD_IN_FRAMES].permute(0, 3, 1, 2))
    tokens = motion.tokens
    stream.prime(lead_pose, tokens[None, :LEAD_IN_FRAMES].to(device, dtype), motion.reference[None, None].to(device, dtype))
    total = -(-num_frames // CHUNK) + (3 if include_lead_in else 0)  # outputs: driving chunks (+ lead-in)
    out = []
    conditioning = _chunk_conditioning(models, pose_maps, tokens, num_frames)
    for chunk in stream.run_conditioning(conditioning, include_lead_in):
        latents = unscale(chunk.latents.float()).cpu()
        out.append(latents)
        if on_window:
            on_window(len(out), total, latents)
        if should_stop and should_stop():
            raise Interrupted("Sampling was interrupted; the frames finished so far were discarded.")
    return torch.cat(out)


def decode_latents(models: PersonaLiveModels, latents: torch.Tensor, chunk_size: int = 8,
                   use_tiny: bool = False) -> torch.Tensor:
    """IMAGE batch (F,H,W,3) in [0,1] from raw latents, decoding `chunk_size` frames at a time."""
    if latents.ndim != 4 or latents.shape[0] == 0:
        raise InputError(f"Expected latents (frames, 4, h, w) with at least one frame; got {tuple(latents.shape)}")
    vae = load_tiny_decoder(models.root, models.dtype, models.device) if use_tiny else models.vae
    return decode_all(vae, latents, chunk_size)


def make_tiny_weights(out_dir: str | Path) -> Path:
    """Write tiny RANDOM weights in the official layout (for demos and tests: the output is noise)."""
    from .tiny_weights import write_tiny_weights

    return write_tiny_weights(out_dir)
