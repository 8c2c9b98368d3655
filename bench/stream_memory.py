"""Peak memory of the streaming entry point for a short and a long driving video (tiny random weights).

Each length runs in its own process; we report the peak resident memory and its growth over the
resident memory measured after the models are loaded and the first chunk is done. Streaming keeps
only the 16-frame window, so both lengths should peak at nearly the same memory.

    python bench/stream_memory.py [--lengths 64 512] [--size 128]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(weights: str, length: int, size: int) -> None:
    import math

    import torch

    sys.path.insert(0, str(REPO))
    from personalive_core.decoding import decode_chunks, unscale
    from personalive_core.demo_inputs import draw_face
    from personalive_core.loading import load_models
    from personalive_core.reference import encode_reference
    from personalive_core.streaming.animate import LatentStream
    from personalive_core.streaming.noise import SeededNoise
    from personalive_core.video_io import square_frame

    torch.set_num_threads(2)
    models = load_models(weights, dtype="fp32", device="cpu")
    reference = encode_reference(models, draw_face(size), size=size)

    def frames():
        for i in range(length):
            t = i / 24 * 2 * math.pi
            yield square_frame(draw_face(size, yaw=math.sin(t), mouth=0.5 + 0.5 * math.sin(3 * t)), size)

    baseline, written, started = None, 0, time.time()
    for chunk in LatentStream(models, reference, SeededNoise(0)).run(frames()):
        for images in decode_chunks(models.vae, unscale(chunk.latents), 4):
            written += images.shape[0]  # a real caller writes them out; nothing is kept here
        if baseline is None:
            baseline = _rss_mib()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"frames": written, "peak_mib": peak, "after_first_chunk_mib": baseline,
                      "seconds": time.time() - started}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    sys.path.insert(0, str(REPO))
    from personalive_core.tiny_weights import write_tiny_weights

    with tempfile.TemporaryDirectory() as tmp:
        weights = write_tiny_weights(tmp)
        rows = []
        for length in args.lengths:
            out = subprocess.run([sys.executable, __file__, "--child", str(weights), str(length), str(args.size)],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'frames':>7} {'peak RSS MiB':>13} {'RSS after 1st chunk':>20} {'growth MiB':>11} {'s':>7}")
    for r in rows:
        print(f"{r['frames']:>7} {r['peak_mib']:>13.0f} {r['after_first_chunk_mib']:>20.0f} "
              f"{r['peak_mib'] - r['after_first_chunk_mib']:>11.0f} {r['seconds']:>7.0f}")
    print(f"peak ratio {rows[-1]['frames']} vs {rows[0]['frames']} frames: {rows[-1]['peak_mib'] / rows[0]['peak_mib']:.3f}")


if __name__ == "__main__":
    main()
