"""The motion-control widgets, shared by the nodes that take them (same ranges and wording everywhere).
All are optional inputs, so workflows saved before they existed still load with the neutral defaults."""

from __future__ import annotations

from comfy_api.v0_0_2 import io

from personalive_core.motion_controls import MODES

_STRENGTH = {"default": 1.0, "min": 0.0, "max": 2.0, "step": 0.05, "optional": True}


def pose_strength_input():
    return io.Float.Input("pose_strength", **_STRENGTH, tooltip=(
        "How much of the driver's head pose to take: 0 keeps the reference's pose, 1 the driver's (rotations "
        "interpolated along the shortest path), above 1 exaggerates."))


def expression_strength_input(note: str = ""):
    return io.Float.Input("expression_strength", **_STRENGTH, tooltip=(
        f"How much of the driver's expression to take: 0 the reference's, 1 the driver's, above 1 exaggerates{note}."))


def motion_mode_input(neutral: str):
    """`neutral`: which frame counts as neutral in relative mode, and what follows it."""
    return io.Combo.Input("motion_mode", options=list(MODES), default="absolute", optional=True, tooltip=(
        f"absolute: copy the driver's pose and expression. relative: {neutral}"))


def smoothing_input():
    return io.Float.Input("smoothing", default=0.0, min=0.0, max=1.0, step=0.05, optional=True,
                          tooltip="Smooths jittery head motion (a causal One-Euro filter): 0 off, 1 strongest.")
