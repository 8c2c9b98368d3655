"""Per-chunk conditioning of the driving video: keypoints, pose maps, face crops, motion tokens.

The first chunk also yields the 12 lead-in frames that move from the reference pose and
expression to the first driving frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..face_crop import crop_faces, face_boxes
from ..keypoints import LEAD_IN_FRAMES, lead_in_pose_keypoints, lead_in_weights, pose_keypoints, transform_keypoints
from ..pose_map import render_pose_maps
from ..reference import KEYPOINT_INPUT_SIZE


def keypoint_input(frames: torch.Tensor) -> torch.Tensor:
    """Detector view of driving frames (B,3,H,W) in [-1,1]: bilinear 256x256 (no antialias), in [0,1]."""
    size = (KEYPOINT_INPUT_SIZE, KEYPOINT_INPUT_SIZE)
    return F.interpolate(frames, size=size, mode="bilinear", align_corners=False) / 2 + 0.5


@dataclass
class ChunkKeypoints:
    """Keypoints of one chunk; `pose` includes the 12 lead-in frames for the first chunk."""

    pose: torch.Tensor  # (F,21,3) drawn into the pose maps
    driver: torch.Tensor  # (B,21,3) the driver's own posed keypoints
    boxes: torch.Tensor  # (B,4) face boxes from `driver`
    reference_box: torch.Tensor | None  # (1,4) first chunk only: the reference face box
    detections: dict[str, dict] = field(default_factory=dict)  # raw detector outputs, for inspection

    def to(self, device) -> "ChunkKeypoints":
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        detections = {name: {k: v.to(device) for k, v in d.items()} for name, d in self.detections.items()}
        return ChunkKeypoints(move(self.pose), move(self.driver), move(self.boxes), move(self.reference_box), detections)


class KeypointTracker:
    """Runs the LivePortrait detector chunk by chunk, remembering the reference and the first frame."""

    def __init__(self, extractor: torch.nn.Module, reference_kp_input: torch.Tensor, size: int):
        self.extractor = extractor
        self.size = size
        with torch.no_grad():
            self.ref = extractor(reference_kp_input)
        self.anchor: dict | None = None  # detection of driving frame 0 alone

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor) -> ChunkKeypoints:
        kp_in = keypoint_input(frames)
        detections = {}
        if self.anchor is None:
            self.anchor = self.extractor(kp_in[0:1])
            chunk = self.extractor(kp_in)
            pose = lead_in_pose_keypoints(self.ref, chunk)
            detections.update(reference=self.ref, first_frame=self.anchor)
        else:
            chunk = self.extractor(kp_in)
            pose = pose_keypoints(chunk, self.ref, self.anchor["t"])
        detections["chunk"] = chunk
        driver = transform_keypoints(chunk)
        boxes = face_boxes(driver, self.size, self.size)
        ref_box = face_boxes(pose[0:1], self.size, self.size) if "reference" in detections else None
        return ChunkKeypoints(pose, driver, boxes, ref_box, detections)


class MotionTracker:
    """Face crops -> motion tokens, chunk by chunk; the first chunk adds the reference and lead-in."""

    def __init__(self, encoder: torch.nn.Module, reference_image: torch.Tensor):
        self.encoder = encoder
        self.ref_image = reference_image[None]  # (3,S,S) in [-1,1]
        self.reference_tokens: torch.Tensor | None = None  # (1,1,32,16)

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor, kps: ChunkKeypoints) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (face crops, motion tokens (1,F,32,16)); F = 12 + B for the first chunk."""
        faces = crop_faces(frames, kps.boxes)
        if kps.reference_box is None:
            return faces, self.encoder(faces)[None]
        faces = torch.cat([crop_faces(self.ref_image, kps.reference_box), faces])
        tokens = self.encoder(faces)[None]
        self.reference_tokens = tokens[:, 0:1]
        return faces, with_lead_in_motion(tokens[:, 0:1], tokens[:, 1:])


def with_lead_in_motion(reference: torch.Tensor, driving: torch.Tensor) -> torch.Tensor:
    """Motion tokens (1,B,32,16) preceded by 12 lead-in frames blending the reference's tokens
    (1,1,32,16) into the first driving frame's."""
    beta = lead_in_weights(driving.dtype, driving.device).view(1, LEAD_IN_FRAMES, 1, 1)
    lead_in = (1 - beta) * reference + beta * driving[:, 0:1]
    return torch.cat([lead_in, driving], dim=1)


def pose_maps_for(kps: ChunkKeypoints, size: int) -> torch.Tensor:
    """Pose maps (F,3,size,size) in [0,1] for a chunk's pose keypoints."""
    return render_pose_maps(kps.pose, size, size)


def pose_features(pose_guider: torch.nn.Module, maps: torch.Tensor) -> torch.Tensor:
    """PoseGuider features of pose maps (F,3,S,S), laid out as the UNet's pose input (1,C,F,S/8,S/8)."""
    param = next(pose_guider.parameters())
    return pose_guider(maps.to(param.device, param.dtype)).transpose(0, 1)[None]


def pad_to_chunks(frames: torch.Tensor, chunk: int = 4) -> torch.Tensor:
    """Frames (N,...) padded by repeating the last one to a multiple of `chunk`."""
    missing = (-frames.shape[0]) % chunk
    return torch.cat([frames, frames[-1:].expand(missing, *frames.shape[1:])]) if missing else frames
