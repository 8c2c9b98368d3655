"""LivePortrait implicit-keypoint maths: head-pose bins, rotations, and the pose keypoints
that PersonaLive draws (the reference's canonical keypoints moved by the driver's head pose).

All functions take the raw detector outputs as a dict with `kp` (B,63), `pitch`/`yaw`/`roll`
(B,66 bin logits, or (B,1) degrees), `t` (B,3) and `scale` (B,1).
"""

from __future__ import annotations

import math

import torch

from .models.motion_extractor import NUM_BINS
from .window import LEAD_IN_FRAMES

NUM_KP = 21
DetectorOutput = dict[str, torch.Tensor]


def bins_to_degrees(angle: torch.Tensor) -> torch.Tensor:
    """Expected angle in degrees of 66 bins 3 degrees wide, as (B,1); degrees pass through.

    The expectation is a matrix product of the softmax with the bin indices (not a sum), as the
    original computes it: the two differ in the last bits.
    """
    if angle.ndim != 2 or angle.shape[1] != NUM_BINS:
        return angle
    idx = torch.arange(NUM_BINS, dtype=angle.dtype, device=angle.device)
    prob = torch.softmax(angle, dim=1)
    return (torch.matmul(prob, idx) * 3 - 97.5).unsqueeze(1)


def rotation_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """(B,3,3) matrix R such that row-vector keypoints rotate as `kp @ R`; angles (B,1) in degrees."""
    x = pitch.float() / 180 * math.pi
    y = yaw.float() / 180 * math.pi
    z = roll.float() / 180 * math.pi
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rx = torch.cat([one, zero, zero, zero, x.cos(), -x.sin(), zero, x.sin(), x.cos()], dim=1).view(-1, 3, 3)
    ry = torch.cat([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], dim=1).view(-1, 3, 3)
    rz = torch.cat([z.cos(), -z.sin(), zero, z.sin(), z.cos(), zero, zero, zero, one], dim=1).view(-1, 3, 3)
    return (rz @ ry @ rx).transpose(1, 2)


def transform_keypoints(det: DetectorOutput) -> torch.Tensor:
    """Posed keypoints (B,21,3): canonical keypoints rotated, scaled and translated (tz ignored)."""
    batch = det["kp"].shape[0]
    angles = torch.cat([det["pitch"], det["yaw"], det["roll"]], dim=0)
    angles = bins_to_degrees(angles)
    pitch, yaw, roll = angles.split(angles.shape[0] // 3, dim=0)
    rot = rotation_matrix(pitch, yaw, roll).to(det["kp"].dtype)
    kp = det["kp"].reshape(batch, NUM_KP, 3) @ rot
    kp = kp * det["scale"][:, :, None]
    kp[:, :, 0:2] += det["t"][:, None, 0:2]
    return kp


def lead_in_weights(dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Blend weights 0, 1/12, ..., 11/12 as `torch.linspace` computes them (bit-exact with the original)."""
    return torch.linspace(0, 1, LEAD_IN_FRAMES + 1, dtype=dtype, device=device)[:LEAD_IN_FRAMES]


def _blend(a: torch.Tensor, b: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """(1-alpha)*a + alpha*b for every alpha, stacked along the batch axis."""
    alpha = alpha.view(-1, *([1] * (a.ndim - 1)))
    return (1 - alpha) * a + alpha * b


def pose_keypoints(det: DetectorOutput, ref: DetectorOutput, anchor_t: torch.Tensor) -> torch.Tensor:
    """Keypoints drawn into the pose maps for driving frames (B,21,3).

    The reference's canonical keypoints and scale, the driver's absolute head rotation, and half
    the driver's translation relative to `anchor_t` (the first driving frame) added to the
    reference translation.
    """
    batch = det["kp"].shape[0]
    moved = {
        "kp": ref["kp"].expand(batch, -1),
        "pitch": det["pitch"],
        "yaw": det["yaw"],
        "roll": det["roll"],
        "t": (det["t"] - anchor_t) * 0.5 + ref["t"],
        "scale": det["scale"] * 0 + ref["scale"],
    }
    return transform_keypoints(moved)


def lead_in_pose_keypoints(ref: DetectorOutput, first_chunk: DetectorOutput) -> torch.Tensor:
    """Pose keypoints of the 12 lead-in frames followed by those of the first driving chunk.

    The lead-in blends the head angles from the reference to the first driving frame; translation
    and scale are blends of the reference values with themselves (kept, as the original computes
    them, because they differ from the reference in the last bit). Returns (12+B,21,3).
    """
    alpha = lead_in_weights(ref["kp"].dtype, ref["kp"].device)
    batch = first_chunk["kp"].shape[0]
    t_rel = (first_chunk["t"] - first_chunk["t"][0:1]) * 0.5 + ref["t"]
    s_rel = first_chunk["scale"] * 0 + ref["scale"]
    angles = {}
    for name in ("pitch", "yaw", "roll"):
        ref_deg = bins_to_degrees(ref[name])
        drv_deg = bins_to_degrees(first_chunk[name])
        angles[name] = torch.cat([_blend(ref_deg, drv_deg[0:1], alpha), drv_deg], dim=0)
    merged = {
        "kp": ref["kp"].expand(LEAD_IN_FRAMES + batch, -1),
        **angles,
        "t": torch.cat([_blend(ref["t"], t_rel[0:1], alpha), t_rel], dim=0),
        "scale": torch.cat([_blend(ref["scale"], s_rel[0:1], alpha), s_rel], dim=0),
    }
    return transform_keypoints(merged)
