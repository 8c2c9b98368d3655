"""Face boxes derived from the drawn keypoints, and the 224 px face crops of the motion encoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import InputError
from .pose_map import keypoint_pixels

FACE_CROP_SIZE = 224


def face_boxes(kps: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Boxes (B,4) int64 as [x1, y1, x2, y2] (end-exclusive) around the drawn keypoints.

    The box is a square of side 3.4 x (centre height - top keypoint), centred slightly up and
    left of the keypoints' mean, clamped to the canvas.
    """
    pts = keypoint_pixels(kps, height, width)
    cx = pts[..., 0].float().mean(dim=1)
    cy = pts[..., 1].float().mean(dim=1)
    top = pts[..., 1].float().min(dim=1)[0]
    side = (cy - top) * 2.0
    side = side * 1.7
    x1 = (cx - side / 2 * 0.95).clamp(0, width - 1).long()
    y1 = (cy - side / 2 * 0.95).clamp(0, height - 1).long()
    x2 = (cx + side / 2 * 1.05).clamp(0, width - 1).long()
    y2 = (cy + side / 2 * 1.05).clamp(0, height - 1).long()
    return torch.stack([x1, y1, x2, y2], dim=1)


def crop_faces(images: torch.Tensor, boxes: torch.Tensor, size: int = FACE_CROP_SIZE) -> torch.Tensor:
    """Crop each image (B,3,H,W) to its box and resize bilinearly (no antialias) to size x size."""
    crops = []
    for image, (x1, y1, x2, y2) in zip(images, boxes.tolist()):
        if x2 <= x1 or y2 <= y1:
            raise InputError(
                f"No face found: the face box {[x1, y1, x2, y2]} is empty. Use a driving frame and a reference "
                "in which a face is clearly visible, roughly centred and not cut off."
            )
        patch = image[:, y1:y2, x1:x2][None]
        crops.append(F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False))
    return torch.cat(crops, dim=0)
