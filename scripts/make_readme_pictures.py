"""Draw the README's before/after pictures of the motion controls and paste-back (docs/images/).

    python scripts/make_readme_pictures.py

Tiny random weights make noise, not faces, and detect no head pose, so the pictures show what the
controls change before sampling: the pose maps PersonaLive is conditioned on (one row per setting, one
column per driving frame) for a synthetic head turning, nodding and rolling, drawn by the pipeline's
own keypoint tracker; and for paste-back the face square, its feathered mask and the composite (tiny
weights). Nothing is downloaded. Runs in under a minute on a CPU.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "images"
SIZE = 128  # working size of the pose maps
FRAMES = (0, 4, 8, 11)  # driving frames shown

ROWS = {
    "as the driver (default)": {},
    "pose strength 0": {"pose_strength": 0.0},
    "pose strength 0.5": {"pose_strength": 0.5},
    "pose strength 1.5": {"pose_strength": 1.5},
    "relative motion": {"mode": "relative"},
    "smoothing 0.8": {"smoothing": 0.8},
}


class SyntheticHead(torch.nn.Module):
    """Stands in for the keypoint detector (tiny random weights detect no head): a face-like set of
    canonical keypoints, and for driving frame i a head turning from 30 degrees right to 25 left while
    nodding and rolling, with 3 degrees of detector noise. The frame index is read from the frame's
    grey level (see `driving_frames`); a zero image is the reference, looking straight ahead."""

    CANONICAL = {1: (-0.25, -0.15, 0.1), 2: (0.25, -0.15, 0.1), 3: (-0.1, -0.12, 0.15), 4: (0.1, -0.12, 0.15),
                 12: (0.0, 0.05, 0.3), 15: (-0.15, 0.25, 0.1), 20: (0.15, 0.25, 0.1)}

    def forward(self, kp_input: torch.Tensor) -> dict:
        index = (kp_input.mean(dim=(1, 2, 3)) * 100).round() - 1  # -1: the reference
        kp = torch.zeros(len(index), 21, 3)
        for k, xyz in self.CANONICAL.items():
            kp[:, k] = torch.tensor(xyz)
        noise = torch.randn(len(index), generator=torch.Generator().manual_seed(int(index.sum())))
        looking = index >= 0
        yaw = torch.where(looking, 30 - 5 * index + 3 * noise, torch.zeros_like(index))
        pitch = torch.where(looking, 15 * torch.sin(index / 2), torch.zeros_like(index))
        roll = torch.where(looking, 15 - 2.5 * index, torch.zeros_like(index))
        return {"kp": kp.reshape(-1, 63), "pitch": pitch[:, None], "yaw": yaw[:, None], "roll": roll[:, None],
                "t": torch.zeros(len(index), 3), "scale": torch.full((len(index), 1), 1.8)}


def driving_frames(count: int = 12) -> torch.Tensor:
    """Frames (count,3,S,S) in [-1,1] whose grey level encodes their index for `SyntheticHead`."""
    levels = (torch.arange(count) + 1) / 100 * 2 - 1
    return levels[:, None, None, None].expand(count, 3, SIZE, SIZE).clone()


def labelled_grid(rows: list[tuple[str, list[Image.Image]]], columns: list[str], tile: int,
                  label_width: int = 170, header: int = 24, gap: int = 4) -> Image.Image:
    step = tile + gap
    grid = Image.new("RGB", (label_width + step * len(columns), header + step * len(rows)), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    for c, title in enumerate(columns):
        draw.text((label_width + c * step + 4, 6), title, fill=(0, 0, 0))
    for r, (label, tiles) in enumerate(rows):
        draw.text((8, header + r * step + tile // 2 - 6), label, fill=(0, 0, 0))
        for c, image in enumerate(tiles):
            grid.paste(image.resize((tile, tile), Image.NEAREST), (label_width + c * step, header + r * step))
    return grid


def motion_controls_picture() -> Image.Image:
    """Pose maps of the same driver under each control, drawn by the pipeline's own keypoint tracker."""
    from personalive_core.motion_controls import MotionControls
    from personalive_core.pose_map import render_pose_maps
    from personalive_core.streaming.trackers import KeypointTracker

    frames = driving_frames()
    rows = []
    for label, options in ROWS.items():
        tracker = KeypointTracker(SyntheticHead(), torch.zeros(1, 3, 256, 256), SIZE, MotionControls(**options))
        pose = torch.cat([tracker(frames[i:i + 4]).pose for i in range(0, len(frames), 4)])
        maps = render_pose_maps(pose, SIZE, SIZE).permute(0, 2, 3, 1)
        rows.append((label, [Image.fromarray((maps[i].numpy() * 255).astype(np.uint8)) for i in FRAMES]))
    columns = [f"driving frame {i}" for i in FRAMES]
    return labelled_grid(rows, columns, tile=SIZE * 3 // 2)


def paste_back_picture(models) -> Image.Image:
    from personalive_core.animate import animate_frames
    from personalive_core.demo_inputs import draw_face
    from personalive_core.paste_back import FaceCrop, PasteBack, feather_mask

    picture = Image.new("RGB", (240, 320), (70, 110, 90))
    ImageDraw.Draw(picture).rectangle([40, 200, 200, 320], fill=(60, 60, 140))  # shoulders
    picture.paste(draw_face(128), (56, 80))
    crop = FaceCrop(56, 80, 128)
    driving = [torch.from_numpy(np.asarray(draw_face(SIZE, yaw=0.8, mouth=0.9))).permute(2, 0, 1).float() / 127.5 - 1]
    frame = next(iter(animate_frames(models, crop.image(picture), driving, size=SIZE, seed=0)))
    composite = Image.fromarray((PasteBack(picture, crop)(frame)[0].numpy() * 255).round().astype(np.uint8))
    outlined = picture.copy()
    ImageDraw.Draw(outlined).rectangle([crop.left, crop.top, crop.left + crop.side - 1, crop.top + crop.side - 1],
                                       outline=(255, 220, 0), width=2)
    mask = np.zeros((picture.height, picture.width), np.float32)
    mask[crop.top:crop.top + crop.side, crop.left:crop.left + crop.side] = feather_mask(crop.side)
    mask_image = Image.fromarray((mask * 255).astype(np.uint8)).convert("RGB")
    panels = [("picture and face square", outlined), ("feathered mask", mask_image),
              ("composite (tiny weights: noise)", composite)]
    out = Image.new("RGB", (picture.width * 3 + 20, picture.height + 24), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    for i, (label, panel) in enumerate(panels):
        out.paste(panel, (i * (picture.width + 10), 24))
        draw.text((i * (picture.width + 10) + 4, 6), label, fill=(0, 0, 0))
    return out


def main() -> int:
    sys.path.insert(0, str(REPO))
    from personalive_core import api

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        models = api.load_models(api.make_tiny_weights(Path(tmp) / "tiny"), dtype="fp32", device="cpu")
        torch.manual_seed(0)
        motion_controls_picture().save(OUT / "motion_controls.png", optimize=True)
        paste_back_picture(models).save(OUT / "paste_back.png", optimize=True)
    print(f"wrote {OUT / 'motion_controls.png'} and {OUT / 'paste_back.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
