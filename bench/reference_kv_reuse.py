"""What projecting the reference tokens once saves per denoising-UNet call.

The original concatenates every frame's tokens with the reference (and history-keyframe) tokens
and projects the whole sequence with `to_k`/`to_v` in every spatial self-attention, for each of the
16 frames of every call. This pack projects the reference tokens once per reference (and once per
keyframe) and reuses them. Both give the same numbers (the projections have no bias).

This benchmark times, in one run on this machine, (a) one UNet call of this pack and (b) the extra
work the original does per call, i.e. projecting 16 x (1 + keyframes) copies of the reference tokens
in every block with the same layers. Their ratio is the per-call saving. A mid-sized UNet (SD1
layout, widths 64-256, 256 px) on the CPU stands in for the real one.

    python bench/reference_kv_reuse.py [--size 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personalive_core.models.unet3d import ReferenceAttention, build_denoising_unet  # noqa: E402
from personalive_core.tiny_weights import UNET_CONFIG  # noqa: E402

FRAMES = 16


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def level(name: str) -> int:
    """Resolution level of a block path: 0 at full latent size, 3 at the mid block."""
    if name.startswith("mid_block"):
        return 3
    index = int(name.split(".")[1])
    return index if name.startswith("down_blocks") else 3 - index


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    config = dict(UNET_CONFIG, block_out_channels=[64, 128, 256, 256], cross_attention_dim=64)
    unet = build_denoising_unet(config).to_empty(device="cpu")
    for p in unet.parameters():
        p.normal_(0, 0.02)
    for module in unet.modules():
        if hasattr(module, "reset_table"):
            module.reset_table("cpu", torch.float32)
    h = args.size // 8
    widths = {name: block.attn1.to_k.in_features for name, block in unet.reference_blocks().items()}
    tokens = {name: (h // (2 ** level(name))) ** 2 for name in widths}
    features = {name: torch.randn(1, tokens[name], widths[name]) for name in widths}
    sample = torch.randn(1, 4, FRAMES, h, h)
    timesteps = torch.tensor([0, 333, 666, 999]).repeat_interleave(4)
    clip = torch.randn(1, 1, 64)
    motion = torch.randn(1, FRAMES, 32, 16)
    pose = torch.randn(1, 64, FRAMES, h, h)

    print(f"{'keyframes':>9} {'UNet call (s)':>14} {'original extra projections (s)':>31} {'saving':>8}")
    for keyframes in (0, 3):
        attention = ReferenceAttention.from_features(unet, features)
        for _ in range(keyframes):
            attention.add_keyframe(features)
        call = _best(lambda: unet(sample, timesteps, clip, motion, pose, attention), args.repeats)
        copies = FRAMES * (1 + keyframes)
        repeated = {name: f.repeat(1, copies, 1) for name, f in features.items()}
        extra = _best(lambda: unet.reference_keys_values(repeated), args.repeats)
        print(f"{keyframes:>9} {call:>14.3f} {extra:>31.3f} {extra / (call + extra):>7.1%}")



if __name__ == "__main__":
    main()
