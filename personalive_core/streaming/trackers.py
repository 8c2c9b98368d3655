"""Chunk-by-chunk trackers of the driving video: LivePortrait keypoints and motion tokens.

Both remember what the first chunk established (the reference's detection and the first driving
frame's translation; the reference's motion tokens) and hand out the lead-in separately from the
chunk's own driving frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..face_crop import crop_faces, face_boxes
from ..keypoints import lead_in_pose_keypoints, lead_in_weights, pose_keypoints, transform_keypoints
from ..motion_controls import ExpressionControl, MotionControls, PoseControl
from ..reference import KEYPOINT_INPUT_SIZE
from ..window import LEAD_IN_FRAMES


def keypoint_input(frames: torch.Tensor) -> torch.Tensor:
    """Detector view of driving frames (B,3,H,W) in [-1,1]: bilinear 256x256 (no antialias), in [0,1]."""
    size = (KEYPOINT_INPUT_SIZE, KEYPOINT_INPUT_SIZE)
    return F.interpolate(frames, size=size, mode="bilinear", align_corners=False) / 2 + 0.5


def _move(value, device):
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: _move(v, device) for k, v in value.items()}
    return value.to(device)


@dataclass
class ChunkKeypoints:
    """Keypoints of one chunk of driving frames; the first chunk also carries the lead-in's."""

    pose: torch.Tensor  # (B,21,3) drawn into the pose maps of the chunk's frames
    driver: torch.Tensor  # (B,21,3) the driver's own posed keypoints
    boxes: torch.Tensor  # (B,4) face boxes from `driver`
    lead_in_pose: torch.Tensor | None = None  # (12,21,3) first chunk only
    reference_box: torch.Tensor | None = None  # (1,4) first chunk only: the reference face box
    detections: dict[str, dict] = field(default_factory=dict)  # raw detector outputs, for inspection

    @property
    def first(self) -> bool:
        """Is this the first chunk of the stream (the one that carries the lead-in)?"""
        return self.lead_in_pose is not None

    def to(self, device) -> "ChunkKeypoints":
        return ChunkKeypoints(*(_move(getattr(self, f), device) for f in
                                ("pose", "driver", "boxes", "lead_in_pose", "reference_box", "detections")))


class KeypointTracker:
    """Runs the LivePortrait detector chunk by chunk, remembering the reference and the first frame."""

    def __init__(self, extractor: torch.nn.Module, reference_kp_input: torch.Tensor, size: int,
                 controls: MotionControls | None = None):
        self.extractor = extractor
        self.size = size
        with torch.no_grad():
            self.ref = extractor(reference_kp_input)
        self.anchor: dict | None = None  # detection of driving frame 0 alone
        self.control = PoseControl(controls, self.ref) if controls and controls.moves_pose else None

    def _controlled(self, chunk: dict) -> dict:
        """The chunk's detection as the pose maps should follow it (unchanged without controls)."""
        return chunk if self.control is None else self.control(chunk, self.anchor)

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor) -> ChunkKeypoints:
        kp_in = keypoint_input(frames)
        if self.anchor is not None:
            chunk = self.extractor(kp_in)
            pose = pose_keypoints(self._controlled(chunk), self.ref, self.anchor["t"])
            return self._keypoints(pose, chunk, {"chunk": chunk})
        self.anchor = self.extractor(kp_in[0:1])
        chunk = self.extractor(kp_in)
        # Computed together (as the original does), then split: the lead-in is data of its own.
        both = lead_in_pose_keypoints(self.ref, self._controlled(chunk))
        kps = self._keypoints(both[LEAD_IN_FRAMES:], chunk,
                              {"reference": self.ref, "first_frame": self.anchor, "chunk": chunk})
        kps.lead_in_pose = both[:LEAD_IN_FRAMES]
        kps.reference_box = face_boxes(both[0:1], self.size, self.size)
        return kps

    def _keypoints(self, pose: torch.Tensor, chunk: dict, detections: dict) -> ChunkKeypoints:
        driver = transform_keypoints(chunk)
        return ChunkKeypoints(pose, driver, face_boxes(driver, self.size, self.size), detections=detections)

    def state_dict(self) -> dict:
        return {"anchor": self.anchor, "control": self.control.state_dict() if self.control else None}

    def load_state_dict(self, state: dict) -> None:
        self.anchor = state["anchor"]
        if self.control is not None and state.get("control") is not None:
            self.control.load_state_dict(state["control"])


@dataclass
class ChunkMotion:
    """Face crops and motion tokens of one chunk; the first chunk also carries the lead-in's tokens."""

    faces: torch.Tensor  # (B,3,224,224)
    tokens: torch.Tensor  # (1,B,32,16)
    lead_in: torch.Tensor | None = None  # (1,12,32,16) first chunk only
    reference: torch.Tensor | None = None  # (1,1,32,16) first chunk only: the reference's tokens
    reference_face: torch.Tensor | None = None  # (1,3,224,224) first chunk only: the reference's face crop


class MotionTracker:
    """Face crops -> motion tokens, chunk by chunk; the first chunk adds the reference and lead-in."""

    def __init__(self, encoder: torch.nn.Module, reference_image: torch.Tensor, controls: MotionControls | None = None):
        self.encoder = encoder
        self.ref_image = reference_image[None]  # (3,S,S) in [-1,1]
        self.control = ExpressionControl(controls) if controls and controls.moves_expression else None

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor, kps: ChunkKeypoints) -> ChunkMotion:
        faces = crop_faces(frames, kps.boxes)
        if not kps.first:
            tokens = self.encoder(faces)[None]
            return ChunkMotion(faces, tokens if self.control is None else self.control(tokens))
        # The reference face is encoded in the same batch as the first chunk, as the original does.
        reference_face = crop_faces(self.ref_image, kps.reference_box)
        tokens = self.encoder(torch.cat([reference_face, faces]))[None]
        reference, driving = tokens[:, 0:1], tokens[:, 1:]
        if self.control is not None:
            driving = self.control(driving, reference)
        return ChunkMotion(faces, driving, lead_in_motion(reference, driving[:, 0:1]), reference, reference_face)


    def state_dict(self) -> dict:
        return {"control": self.control.state_dict() if self.control else None}

    def load_state_dict(self, state: dict) -> None:
        if self.control is not None and state.get("control") is not None:
            self.control.load_state_dict(state["control"])


def lead_in_motion(reference: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
    """Tokens (1,12,32,16) of the lead-in: the reference's (1,1,32,16) blended into the first driving
    frame's (1,1,32,16) with the lead-in weights 0, 1/12, ..., 11/12."""
    beta = lead_in_weights(first.dtype, first.device).view(1, LEAD_IN_FRAMES, 1, 1)
    return (1 - beta) * reference + beta * first
