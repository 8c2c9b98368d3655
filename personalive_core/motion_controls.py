"""Shaping the driver's motion before it conditions the portrait: how much head pose and expression
to take, relative or absolute motion, and causal smoothing of jittery keypoints.

PersonaLive is conditioned twice: pose maps (the reference's canonical keypoints moved by the driver's
head rotation and translation; no expression offsets enter them) and motion tokens (the face crop's
expression and fine head motion). Head-pose strength acts on the pose maps' rotation and translation;
expression strength acts on the motion tokens. The defaults change nothing: every control is skipped
and the output is bit-identical to the uncontrolled pipeline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .errors import InputError
from .keypoints import bins_to_degrees, rotation_matrix

MODES = ("absolute", "relative")
STRENGTH_RANGE = (0.0, 2.0)  # above 1 exaggerates; past 2 heads turn into impossible poses


@dataclass(frozen=True)
class MotionControls:
    """pose_strength: 0 keeps the reference's head pose, 1 the driver's, up to 2 exaggerates it.
    expression_strength: 0 the reference's expression, 1 the driver's, up to 2 exaggerates it.
    mode: `absolute` copies the driver's pose and expression; `relative` takes only their change since
    the driver's first frame (so a driver who starts tilted does not tilt the portrait).
    smoothing: 0 off, up to 1 strongest; a causal One-Euro filter on head angles and translation (on a
    15 degrees/s head turn at 25 fps it lags by at most 0.8 frames at 0.3 and 2.6 frames at 1)."""

    pose_strength: float = 1.0
    expression_strength: float = 1.0
    mode: str = "absolute"
    smoothing: float = 0.0

    def __post_init__(self):
        low, high = STRENGTH_RANGE
        for name in ("pose_strength", "expression_strength"):
            value = getattr(self, name)
            if not low <= value <= high:
                raise InputError(f"{name} must be between {low:g} and {high:g} (1 = as the driver); got {value}")
        if self.mode not in MODES:
            raise InputError(f"motion mode must be one of {', '.join(MODES)}; got {self.mode!r}")
        if not 0.0 <= self.smoothing <= 1.0:
            raise InputError(f"smoothing must be between 0 (off) and 1 (strongest); got {self.smoothing}")

    @property
    def moves_pose(self) -> bool:
        """Does any control change the pose maps? (False: the exact, uncontrolled path runs.)"""
        return self.pose_strength != 1.0 or self.mode != "absolute" or self.smoothing > 0

    @property
    def moves_expression(self) -> bool:
        return self.expression_strength != 1.0 or self.mode != "absolute"


def rotation_power(rotation: torch.Tensor, power: float) -> torch.Tensor:
    """Rotations (B,3,3) raised to `power`: the same axis, `power` times the angle (Rodrigues)."""
    cos = ((rotation.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1)
    angle = torch.acos(cos)
    skew = torch.stack([rotation[:, 2, 1] - rotation[:, 1, 2], rotation[:, 0, 2] - rotation[:, 2, 0],
                        rotation[:, 1, 0] - rotation[:, 0, 1]], dim=-1)
    axis = skew / (2 * angle.sin().clamp_min(1e-8))[:, None]
    scaled = (angle * power)[:, None, None]
    k = torch.zeros_like(rotation)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - k.transpose(1, 2)
    eye = torch.eye(3, dtype=rotation.dtype, device=rotation.device).expand_as(rotation)
    result = eye + scaled.sin() * k + (1 - scaled.cos()) * (k @ k)
    return torch.where((angle < 1e-6)[:, None, None], eye, result)


def euler_degrees(rotation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(pitch, yaw, roll) as (B,1) degrees of matrices made by `keypoints.rotation_matrix`."""
    m = rotation.transpose(1, 2)  # rotation_matrix returns (Rz @ Ry @ Rx) transposed
    yaw = torch.asin((-m[:, 2, 0]).clamp(-1, 1))
    pitch = torch.atan2(m[:, 2, 1], m[:, 2, 2])
    roll = torch.atan2(m[:, 1, 0], m[:, 0, 0])
    return tuple((a * 180 / math.pi)[:, None] for a in (pitch, yaw, roll))


def head_rotation(det: dict) -> torch.Tensor:
    """The head rotation (B,3,3) of a detection (angles as bins or degrees)."""
    return rotation_matrix(*(bins_to_degrees(det[name]).float() for name in ("pitch", "yaw", "roll")))


class OneEuro:
    """A causal One-Euro filter over frames (Casiez et al. 2012) for a few channels at once: smooths
    slow motion strongly and follows fast motion quickly. `strength` 0..1 sets the cut-off."""

    def __init__(self, strength: float, rate: float = 25.0, beta: float = 0.05, derivative_cutoff: float = 1.0):
        self.min_cutoff = 8.0 * (1 - strength) ** 2 + 0.05  # Hz: 8 (light) down to 0.05 (heavy)
        self.rate, self.beta, self.derivative_cutoff = rate, beta, derivative_cutoff
        self.value: torch.Tensor | None = None
        self.slope: torch.Tensor | None = None

    def _alpha(self, cutoff):
        tau = 1 / (2 * math.pi * cutoff)
        return 1 / (1 + tau * self.rate)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Filter one frame's channels (C,)."""
        if self.value is None:
            self.value, self.slope = x.clone(), torch.zeros_like(x)
            return x
        slope = (x - self.value) * self.rate
        a = self._alpha(self.derivative_cutoff)
        self.slope = a * slope + (1 - a) * self.slope
        a = self._alpha(self.min_cutoff + self.beta * self.slope.abs())
        self.value = a * x + (1 - a) * self.value
        return self.value

    def state_dict(self) -> dict:
        return {"value": self.value, "slope": self.slope}

    def load_state_dict(self, state: dict) -> None:
        self.value, self.slope = state["value"], state["slope"]


class PoseControl:
    """Applies pose strength, the relative mode and smoothing to each chunk's detection, frame by frame.
    The result holds head angles in degrees and a translation, which the keypoint maths take as is."""

    def __init__(self, controls: MotionControls, reference: dict):
        self.controls = controls
        self.reference = head_rotation(reference)
        self.first: torch.Tensor | None = None  # the driver's first-frame rotation (relative mode)
        self.smoother = OneEuro(controls.smoothing) if controls.smoothing > 0 else None

    def __call__(self, det: dict, anchor: dict) -> dict:
        """`det` of a chunk moved by the controls; `anchor` is the detection of driving frame 0."""
        c = self.controls
        driver = head_rotation(det)
        if self.first is None:
            self.first = head_rotation(anchor)
        start = self.first if c.mode == "relative" else self.reference
        rotation = self.reference @ rotation_power(start.transpose(1, 2) @ driver, c.pose_strength)
        pitch, yaw, roll = euler_degrees(rotation)
        t = anchor["t"] + (det["t"] - anchor["t"]) * c.pose_strength
        if self.smoother is not None:
            channels = torch.cat([pitch, yaw, roll, t.float()], dim=1)
            channels = torch.stack([self.smoother(frame) for frame in channels])
            pitch, yaw, roll, t = channels[:, 0:1], channels[:, 1:2], channels[:, 2:3], channels[:, 3:]
        dtype = det["kp"].dtype
        return {**det, "pitch": pitch.to(dtype), "yaw": yaw.to(dtype), "roll": roll.to(dtype), "t": t.to(dtype)}

    def state_dict(self) -> dict:
        return {"first": self.first, "smoother": self.smoother.state_dict() if self.smoother else None}

    def load_state_dict(self, state: dict) -> None:
        self.first = state["first"]
        if self.smoother is not None and state["smoother"] is not None:
            self.smoother.load_state_dict(state["smoother"])


class ExpressionControl:
    """Scales the motion tokens' departure from the reference's (absolute) or from the driver's first
    frame's (relative) by the expression strength."""

    def __init__(self, controls: MotionControls):
        self.controls = controls
        self.reference: torch.Tensor | None = None  # (1,1,32,16)
        self.first: torch.Tensor | None = None  # (1,1,32,16) the driver's first frame (relative mode)

    def __call__(self, tokens: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        """Driving tokens (1,B,32,16) -> controlled tokens; `reference` is given with the first chunk."""
        if reference is not None:
            self.reference, self.first = reference, tokens[:, 0:1]
        start = self.first if self.controls.mode == "relative" else self.reference
        return self.reference + (tokens - start) * self.controls.expression_strength

    def state_dict(self) -> dict:
        return {"reference": self.reference, "first": self.first}

    def load_state_dict(self, state: dict) -> None:
        self.reference, self.first = state["reference"], state["first"]
