"""The functions the ComfyUI nodes call: whole IMAGE batches in, whole results out.

Images are ComfyUI IMAGE tensors (B,H,W,3) float in [0,1]. Driving frames are centre-cropped to a
square and resized to the working size; the reference is stretched as the original does. Each step
is the same code the streaming session runs on a live stream, applied chunk by chunk, so the frames
equal those of the `animate` command for the same inputs and seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .checks import (check_crop_method, check_image_batch, check_latents, check_pose_maps, check_same_frames,
                     check_single_image, check_size)
from .compiled import compile_module
from .decoding import decode_all, tiny_decoder_for, unscale
from .errors import PersonaLiveError
from .frames import image_to_pil, signed_unit, square_pixels
from .loading import PersonaLiveModels, load_models
from .models.vae import vae_pixels
from .motion_controls import MotionControls
from .pose_map import render_pose_maps as _render
from .reference import ReferenceFeatures, encode_reference as _encode_reference, keypoint_view
from .streaming import ChunkConditioning, LeadIn, SeededNoise, StreamSession
from .streaming.conditioning import pad_to_chunks, split_pose_features
from .streaming.trackers import ChunkKeypoints, KeypointTracker, MotionTracker
from .weights.official import OFFICIAL_FILES, OfficialFile
from .window import CHUNK_FRAMES, LEAD_IN_CHUNKS, LEAD_IN_FRAMES, chunk_count

__all__ = [
    "PersonaLiveModels", "load_models", "missing_files", "DrivingKeypoints", "extract_keypoints", "render_pose_maps",
    "ReferenceFeatures", "encode_reference", "MotionTokens", "encode_motion", "sample", "decode_latents",
    "Interrupted", "make_tiny_weights", "LEAD_IN_FRAMES",
]


class Interrupted(PersonaLiveError):
    """Raised by `sample` when `should_stop` returns True (between windows)."""


def missing_files(root: str | Path) -> list[OfficialFile]:
    """Official files not present under `root`."""
    root = Path(root).expanduser()
    return [f for f in OFFICIAL_FILES if f.find(root) is None]


@dataclass
class DrivingKeypoints:
    """Keypoints of a driving clip chunk by chunk (the last chunk padded; the first carries the lead-in),
    and the driving frames as the pipeline sees them (square, working size, uint8), for MotionEncode."""

    chunks: list[ChunkKeypoints]
    num_frames: int
    size: int
    crop_method: str
    frames: torch.Tensor  # (chunks*4, 3, S, S) uint8
    controls: MotionControls = MotionControls()  # how the pose maps follow the driver (MotionEncode reads the mode)

    def pose(self, include_lead_in: bool = True) -> torch.Tensor:
        """Pose keypoints (12+N or N, 21, 3)."""
        driving = torch.cat([c.pose for c in self.chunks])[: self.num_frames]
        return torch.cat([self.chunks[0].lead_in_pose, driving]) if include_lead_in else driving

    @property
    def boxes(self) -> torch.Tensor:
        return torch.cat([c.boxes for c in self.chunks])[: self.num_frames]

    def to(self, device) -> "DrivingKeypoints":
        return DrivingKeypoints([c.to(device) for c in self.chunks], self.num_frames, self.size, self.crop_method,
                                self.frames.to(device), self.controls)


@torch.no_grad()
def extract_keypoints(models: PersonaLiveModels, reference: torch.Tensor, driving: torch.Tensor,
                      crop_method: str = "keypoints", size: int = 512,
                      controls: MotionControls | None = None, face_model=None) -> DrivingKeypoints:
    """LivePortrait keypoints of every driving frame and of the lead-in from the reference pose; the pose
    maps follow `controls` (pose strength, motion mode, smoothing; None: the driver as it is). `face_model`:
    where crop_method 'mediapipe' finds face_landmarker.task (a `FaceLandmarkerModel`; None: the default)."""
    reference = check_single_image(reference, "the reference")
    driving = check_image_batch(driving, "the driving batch")
    check_size(size)
    check_crop_method(crop_method, face_model)
    device, dtype = models.device, models.dtype
    portrait = image_to_pil(reference[0])
    tracker = KeypointTracker(models.motion_extractor, keypoint_view(portrait).to(device, dtype), size, controls)
    pixels = pad_to_chunks(torch.stack([square_pixels(image_to_pil(f), size) for f in driving]))
    chunks = [tracker(signed_unit(pixels[i:i + CHUNK_FRAMES]).to(device, dtype))
              for i in range(0, pixels.shape[0], CHUNK_FRAMES)]
    if crop_method == "mediapipe":  # as the original's offline mode: face-mesh boxes, the reference's too
        from .face_mesh import face_mesh_boxes

        chunks[0].reference_box = face_mesh_boxes(vae_pixels(portrait, size), what="the reference portrait",
                                                  model=face_model)
        boxes = face_mesh_boxes(signed_unit(pixels), model=face_model)
        for i, chunk in enumerate(chunks):
            chunk.boxes = boxes[i * CHUNK_FRAMES:(i + 1) * CHUNK_FRAMES]
    return DrivingKeypoints(chunks, driving.shape[0], size, crop_method, pixels, controls or MotionControls())


def render_pose_maps(kps: DrivingKeypoints, include_lead_in: bool = True) -> torch.Tensor:
    """Pose maps as an IMAGE batch (12+N or N, S, S, 3) in [0,1]."""
    return _render(kps.pose(include_lead_in).float(), kps.size, kps.size).permute(0, 2, 3, 1).cpu()


@torch.no_grad()
def encode_reference(models: PersonaLiveModels, reference: torch.Tensor, size: int = 512) -> ReferenceFeatures:
    """CLIP embedding, VAE latents and reference-UNet features of the first reference image."""
    reference = check_single_image(reference, "the reference")
    check_size(size)
    return _encode_reference(models, image_to_pil(reference[0]), size)


@dataclass
class MotionTokens:
    """Motion tokens of the driving frames (chunks*4, 32, 16; the last chunk padded), of the lead-in
    (12, 32, 16) and of the reference (1, 32, 16)."""

    tokens: torch.Tensor
    lead_in: torch.Tensor
    reference: torch.Tensor
    num_frames: int

    def to(self, device) -> "MotionTokens":
        return MotionTokens(self.tokens.to(device), self.lead_in.to(device), self.reference.to(device), self.num_frames)


@torch.no_grad()
def encode_motion(models: PersonaLiveModels, reference: torch.Tensor, driving: torch.Tensor,
                  kps: DrivingKeypoints, expression_strength: float = 1.0) -> MotionTokens:
    """Motion tokens of every driving frame from its face crop (the boxes in `kps`), scaled by
    `expression_strength` (relative to the driver's first frame when `kps` were made relative)."""
    reference = check_single_image(reference, "the reference")
    driving = check_image_batch(driving, "the driving batch")
    check_same_frames(driving.shape[0], "the driving batch", kps.num_frames, "the keypoints")
    device, dtype = models.device, models.dtype
    ref_image = vae_pixels(image_to_pil(reference[0]), kps.size)[0].to(device, dtype)
    controls = MotionControls(expression_strength=expression_strength, mode=kps.controls.mode)
    tracker = MotionTracker(models.motion_encoder, ref_image, controls)
    chunks = [tracker(signed_unit(kps.frames[i * CHUNK_FRAMES:(i + 1) * CHUNK_FRAMES]).to(device, dtype), c.to(device))
              for i, c in enumerate(kps.chunks)]
    first = chunks[0]
    return MotionTokens(torch.cat([c.tokens for c in chunks], dim=1)[0], first.lead_in[0], first.reference[0],
                        kps.num_frames)


def _conditioning(models, pose_maps: torch.Tensor, motion: MotionTokens, num_frames: int):
    """(lead-in or None, chunk conditioning) per chunk of pose maps (F,S,S,3) and motion tokens."""
    device, dtype = models.device, models.dtype
    maps = pose_maps.permute(0, 3, 1, 2)
    lead_in_maps, driving_maps = maps[:LEAD_IN_FRAMES], pad_to_chunks(maps[LEAD_IN_FRAMES:])
    for i in range(chunk_count(num_frames)):
        window = slice(i * CHUNK_FRAMES, (i + 1) * CHUNK_FRAMES)
        lead_pose, pose = split_pose_features(models.pose_guider, driving_maps[window], lead_in_maps if i == 0 else None)
        lead_in = None if lead_pose is None else LeadIn(
            lead_pose, motion.lead_in[None].to(device, dtype), motion.reference[None].to(device, dtype))
        frames = min(CHUNK_FRAMES, num_frames - i * CHUNK_FRAMES)
        yield lead_in, ChunkConditioning(pose, motion.tokens[None, window].to(device, dtype), frames)


@torch.no_grad()
def sample(models: PersonaLiveModels, reference: ReferenceFeatures, pose_maps: torch.Tensor, motion: MotionTokens,
           seed: int = 0, include_lead_in: bool = False,
           on_window: Callable[[int, int, torch.Tensor], None] | None = None,
           should_stop: Callable[[], bool] | None = None, compile: bool = False) -> torch.Tensor:
    """Latents (F,4,S/8,S/8), raw VAE scale (ComfyUI's LATENT convention), one per driving frame
    (plus the 12 lead-in frames first with `include_lead_in`); `compile`: torch.compile the denoising UNet."""
    pose_maps = check_pose_maps(pose_maps, motion.num_frames, reference.size)
    num_frames = motion.num_frames
    if compile:
        compile_module(models.denoising_unet, models.device.type)
    models.residency.park(models)  # low_vram: a model manager may have brought every network back
    session = StreamSession(models, reference.to(models.device), SeededNoise(seed), include_lead_in=include_lead_in)
    total = chunk_count(num_frames) + (LEAD_IN_CHUNKS if include_lead_in else 0)  # output chunks
    out: list[torch.Tensor] = []

    def collect(finished) -> None:
        for chunk in finished:
            out.append(unscale(chunk.latents.float()).cpu())
            if on_window:
                on_window(len(out), total, out[-1])
            if should_stop and should_stop():
                raise Interrupted("Sampling was interrupted; the frames finished so far were discarded.")

    for lead_in, chunk in _conditioning(models, pose_maps, motion, num_frames):
        if lead_in is not None:
            session.start(lead_in)
        collect(session.push(chunk))
    collect(session.finish())
    return torch.cat(out)


def decode_latents(models: PersonaLiveModels, latents: torch.Tensor, chunk_size: int = 8, use_tiny: bool = False,
                   *, on_chunk: Callable[[int, int, torch.Tensor], None] | None = None) -> torch.Tensor:
    """IMAGE batch (F,H,W,3) in [0,1] from raw latents, decoding `chunk_size` frames at a time;
    `on_chunk(frames_done, frames_total, images)` after each chunk. The tiny autoencoder (`use_tiny`)
    is read once per models object."""
    latents = check_latents(latents)
    vae = tiny_decoder_for(models) if use_tiny else models.vae
    return decode_all(vae, latents, chunk_size, on_chunk=on_chunk)


def make_tiny_weights(out_dir: str | Path) -> Path:
    """Write tiny RANDOM weights in the official layout (for demos and tests: the output is noise)."""
    from .tiny_weights import write_tiny_weights

    return write_tiny_weights(out_dir)
