"""The motion-control widgets, shared by the nodes that take them (same ranges and wording everywhere)."""

from __future__ import annotations

from personalive_core.motion_controls import MODES

_STRENGTH = {"default": 1.0, "min": 0.0, "max": 2.0, "step": 0.05}


def pose_strength_input() -> tuple:
    return ("FLOAT", dict(_STRENGTH, tooltip=(
        "How much of the driver's head pose to take: 0 keeps the reference's pose, 1 the driver's (rotations "
        "interpolated along the shortest path), above 1 exaggerates.")))


def expression_strength_input(note: str = "") -> tuple:
    return ("FLOAT", dict(_STRENGTH, tooltip=(
        f"How much of the driver's expression to take: 0 the reference's, 1 the driver's, above 1 exaggerates{note}.")))


def motion_mode_input(neutral: str) -> tuple:
    """`neutral`: which frame counts as neutral in relative mode, and what follows it."""
    return (list(MODES), {"default": "absolute", "tooltip": (
        f"absolute: copy the driver's pose and expression. relative: {neutral}")})


def smoothing_input() -> tuple:
    return ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.05,
                      "tooltip": "Smooths jittery head motion (a causal One-Euro filter): 0 off, 1 strongest."})
