"""Pose maps: seven coloured discs at the projected keypoints, the PoseGuider's input."""

from __future__ import annotations

import torch

# Keypoints drawn (of the 21) and their RGB colours, in the same order.
DRAWN_KEYPOINTS = (1, 2, 3, 4, 12, 15, 20)
DISC_COLOURS = ((255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255), (0, 0, 255), (255, 0, 255), (255, 0, 85))
DISC_RADIUS = 4  # pixels, whatever the canvas size


def keypoint_pixels(kps: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Integer pixel positions (B,7,2) as (x, y) of the drawn keypoints; truncation toward zero."""
    pts = kps[:, list(DRAWN_KEYPOINTS)] * 0.5 + 0.5
    pts[..., 0] *= width
    pts[..., 1] *= height
    return pts.long()


def render_pose_maps(kps: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pose maps (B,3,H,W) float32 in [0,1] for keypoints (B,21,3) in [-1,1] image coordinates.

    Discs of radius 4 px are added colour by colour and the sum is clamped, so overlapping discs
    saturate; discs partly off the canvas are clipped.
    """
    pts = keypoint_pixels(kps, height, width)
    device = kps.device
    cols = torch.arange(width, device=device)
    rows = torch.arange(height, device=device)[:, None]
    canvas = torch.zeros((kps.shape[0], 3, height, width), device=device)
    colours = torch.tensor(DISC_COLOURS, dtype=torch.float32, device=device)
    for i, colour in enumerate(colours):
        x, y = pts[:, i, 0], pts[:, i, 1]
        disc = (x[:, None, None] - cols) ** 2 + (y[:, None, None] - rows) ** 2 <= DISC_RADIUS**2
        for ch in range(3):
            canvas[:, ch] += colour[ch] / 255.0 * disc
    return canvas.clamp(0, 1)
