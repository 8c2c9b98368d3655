"""Access to one golden fixture case directory (`layout.json`, `inputs/`, `golden/*.pt`)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image


class GoldenCase:
    """A fixture case: the original implementation's recorded tensors for one input set."""

    def __init__(self, case_dir: str | Path):
        self.dir = Path(case_dir)
        if not (self.dir / "layout.json").is_file() or not (self.dir / "golden").is_dir():
            raise FileNotFoundError(f"{self.dir} is not a golden case directory (needs layout.json and golden/)")
        self.index = json.loads((self.dir / "golden" / "index.json").read_text())

    @property
    def name(self) -> str:
        return self.dir.name

    def load(self, name: str):
        """A recorded file, e.g. `fuse_reference` or `call_03` (loaded safely, cached)."""
        return _load_pt(str(self.dir / "golden" / f"{name}.pt"))

    def call_names(self) -> list[str]:
        return sorted(p.stem for p in (self.dir / "golden").glob("call_*.pt"))

    def reference_image(self) -> Image.Image:
        return Image.open(self.dir / "inputs" / "ref.png")

    def driving_paths(self) -> list[Path]:
        return sorted((self.dir / "inputs").glob("drive_*.png"))

    def driving_frames(self) -> torch.Tensor:
        """All driving frames as (N, 3, S, S) float32 in [-1, 1], converted like the original demo."""
        arrays = [np.asarray(Image.open(p).convert("RGB")) for p in self.driving_paths()]
        x = torch.from_numpy(np.stack(arrays)).float() / 255.0 * 2.0 - 1.0
        return x.permute(0, 3, 1, 2).contiguous()

    def layout_digest(self) -> str:
        return hashlib.sha256((self.dir / "layout.json").read_bytes()).hexdigest()[:16]


@lru_cache(maxsize=8)
def _load_pt(path: str):
    return torch.load(path, map_location="cpu", weights_only=True)


def generate_case_weights(case_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the case's seeded random weights with the `make_weights.py` beside the case directory.

    Skips the work when `out_dir` already holds weights made from the same `layout.json`.
    """
    case_dir, out_dir = Path(case_dir), Path(out_dir)
    case = GoldenCase(case_dir)
    stamp = out_dir / ".layout-digest"
    if stamp.is_file() and stamp.read_text().strip() == case.layout_digest():
        return out_dir
    script = case_dir.parent / "make_weights.py"
    if not script.is_file():
        raise FileNotFoundError(f"{script} not found: the weights generator must sit beside the case directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, str(script), str(case_dir), str(out_dir)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"make_weights.py failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    stamp.write_text(case.layout_digest())
    return out_dir
