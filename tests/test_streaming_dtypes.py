"""The streaming path stays in the models' dtype: no float64 tensor is made while windows are computed
(float64 is slow on every accelerator, and unsupported on Apple's), and no xformers anywhere (it is what
breaks on new GPUs; PyTorch's own attention is used)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from personalive_core.animate import Animation
from personalive_core.demo_inputs import draw_face
from personalive_core.frames import square_frame

REPO = Path(__file__).resolve().parents[1]
SIZE = 64


class Float64Ops(TorchDispatchMode):
    """Records every operator that returns a float64 tensor."""

    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(value, torch.Tensor) and value.dtype == torch.float64:
                self.seen.add(str(func))
        return out


def test_no_float64_tensor_while_streaming(tiny_random_weights):
    from personalive_core.loading import load_models

    models = load_models(tiny_random_weights, dtype="fp32", device="cpu")
    # With the lead-in frames out too, the first window comes out after 8 driving frames (16 without).
    animation = Animation(models, draw_face(96), size=SIZE, seed=1, include_lead_in=True)
    frames = [square_frame(draw_face(96, yaw=np.sin(i / 3)), SIZE) for i in range(8)]
    watch = Float64Ops()
    with watch:
        out = [batch for frame in frames for batch in animation.feed(frame)]
    assert sum(batch.shape[0] for batch in out) > 0, "no window came out: nothing was checked"
    assert watch.seen == set(), f"float64 tensors made by {sorted(watch.seen)}"


def test_float64_ops_are_noticed():
    watch = Float64Ops()
    with watch:
        torch.ones(3).double().sum()
    assert watch.seen


def test_no_xformers_import():
    pattern = re.compile(r"^\s*(import|from)\s+xformers", re.MULTILINE)
    sources = [*REPO.joinpath("personalive_core").rglob("*.py"), *REPO.joinpath("nodes").rglob("*.py")]
    assert sources and not [str(p) for p in sources if pattern.search(p.read_text())]
    assert "xformers" not in sys.modules


def test_a_stream_never_imports_xformers_even_where_installed(tiny_random_weights, tmp_path):
    """A whole stream in a fresh process with a broken xformers installed (as on GPUs it was not built for):
    nothing tries to import it, and the stream runs."""
    package = tmp_path / "site" / "xformers"
    package.mkdir(parents=True)
    marker = tmp_path / "imported.txt"
    (package / "__init__.py").write_text(
        f"import traceback\nopen({str(marker)!r}, 'a').write(''.join(traceback.format_stack()))\n"
        "raise ImportError('this xformers was built for another GPU')\n")
    code = (
        "import importlib.util\n"
        "assert importlib.util.find_spec('xformers') is not None\n"
        "from personalive_core.animate import animate_frames\n"
        "from personalive_core.demo_inputs import draw_face\n"
        "from personalive_core.loading import load_models\n"
        "from personalive_core.video_io import square_frame\n"
        f"models = load_models({str(tiny_random_weights)!r}, 'fp32', 'cpu')\n"
        f"frames = [square_frame(draw_face({SIZE}), {SIZE}) for _ in range(5)]\n"
        f"out = list(animate_frames(models, draw_face({SIZE}), frames, size={SIZE}))\n"
        "assert sum(o.shape[0] for o in out) == 5\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not marker.exists(), f"xformers was imported:\n{marker.read_text()[-3000:]}"
