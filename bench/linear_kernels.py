"""Linear-layer kernels side by side on this machine: PyTorch's `nn.Linear` (the original's) vs `FastLinear`.

For shapes of the denoising UNet and the motion encoder at 128 px, in fp32 and bf16, on a contiguous input and on
the permuted view the temporal modules feed their linear layers: GFLOP/s of each and the speed-up.

    python bench/linear_kernels.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from personalive_core.models.fast_linear import use_kernels  # noqa: E402

# (rows, in, out): UNet block-1 projections and GEGLU, motion-encoder patch attention, UNet block-2 projections
SHAPES = [(4096, 320, 320), (4096, 320, 2560), (784, 1024, 8192), (1024, 640, 640), (2048, 2048, 2048)]


def seconds(fn, repeats: int = 5) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| dtype | rows x in -> out | input | nn.Linear GFLOP/s | FastLinear GFLOP/s | speed-up |")
    print("|---|---|---|---|---|---|")
    for dtype in (torch.float32, torch.bfloat16):
        for rows, cin, cout in SHAPES:
            # without gradients, as the loader leaves every network (PyTorch's matmul takes other paths for
            # a permuted input when the weight requires grad)
            plain = nn.Linear(cin, cout).to(dtype).requires_grad_(False)
            fast = use_kernels(nn.Sequential(nn.Linear(cin, cout).to(dtype)), "fast")[0].requires_grad_(False)
            fast.load_state_dict(plain.state_dict())
            x = torch.randn(16, rows // 16, cin).to(dtype)
            inputs = {"contiguous": x, "permuted view": x.transpose(0, 1)}
            flops = 2 * rows * cin * cout / 1e9
            for layout, tensor in inputs.items():
                with torch.no_grad():
                    slow, quick = seconds(lambda: plain(tensor)), seconds(lambda: fast(tensor))
                print(f"| {str(dtype).removeprefix('torch.')} | {rows} x {cin} -> {cout} | {layout} | {flops / slow:.0f} "
                      f"| {flops / quick:.0f} | {slow / quick:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
