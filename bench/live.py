"""The live session against the offline path on the same inputs, in one run on this machine.

- offline: `animate_frames` over N camera frames (the work the live session does, with no queue);
- live, nothing dropped: the same N frames pushed at once into a session whose queue holds them all;
  output frames/s and its ratio to offline (the live overhead), median latency per frame. The two
  alternate for a few rounds and the medians are compared (this machine's speed drifts by +-20 %
  between runs of a minute);
- live, dropping: frames pushed at a camera rate above what the machine keeps up with (2x the offline
  rate by default) into the default 8-frame queue for three times the offline run's wall time: output
  frames/s once frames come out (after the stream's delay), dropped frames, median latency of the later
  half (which the bounded queue keeps from growing).

    python bench/live.py [--weights ROOT | tiny random weights] [--size 64] [--frames 24] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def camera(count: int, size: int):
    from personalive_core.demo_inputs import draw_face

    return [draw_face(size, yaw=math.sin(i / 4), mouth=0.5 + 0.5 * math.sin(i / 2)) for i in range(count)]


def offline(models, portrait, frames, size):
    from personalive_core.animate import animate_frames
    from personalive_core.frames import square_frame

    started = time.perf_counter()
    # The driving tensors are made inside the timed part, as the live session makes them per frame.
    out = sum(batch.shape[0] for batch in animate_frames(models, portrait, (square_frame(f, size) for f in frames),
                                                         size=size, seed=42))
    seconds = time.perf_counter() - started
    return {"frames": out, "seconds": seconds, "fps": out / seconds}


def live_all_kept(models, portrait, frames, size):
    from personalive_core.live import LiveOptions, LiveSession

    session = LiveSession(models, portrait, LiveOptions(size=size, seed=42, max_queue=len(frames), max_out=len(frames)))
    started = time.perf_counter()
    for frame in frames:
        session.push(frame)
    session.flush()
    seconds = time.perf_counter() - started
    out = []
    while (frame := session.get(timeout=0)) is not None:
        out.append(frame)
    stats = session.stats()
    session.close()
    return {"frames": len(out), "seconds": seconds, "fps": len(out) / seconds, "dropped": stats.dropped,
            "median_latency_s": statistics.median(f.latency for f in out)}


def live_dropping(models, portrait, frames, size, camera_fps: float, seconds: float):
    from personalive_core.live import LiveOptions, LiveSession

    session = LiveSession(models, portrait, LiveOptions(size=size, seed=42))
    out = []
    started = time.perf_counter()
    sent, first_out = 0, None
    while (now := time.perf_counter()) - started < seconds:
        while sent < (now - started) * camera_fps:
            session.push(frames[sent % len(frames)])
            sent += 1
        while (frame := session.get(timeout=0)) is not None:
            out.append(frame)
            first_out = first_out or time.perf_counter()
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    stats = session.stats()
    session.close()
    # Steady state: from the first frame out (the stream's delay comes first) to the end.
    steady_s = elapsed - (first_out - started) if first_out is not None else float("nan")
    later = [f.latency for f in out[len(out) // 2:]] or [float("nan")]
    return {"camera_fps": camera_fps, "sent": sent, "frames": len(out), "seconds": elapsed,
            "fps": (len(out) - 1) / steady_s if len(out) > 1 else float("nan"), "dropped": stats.dropped,
            "median_latency_s": statistics.median(later)}


def median_run(runs: list[dict]) -> dict:
    """The run with the median frames/s."""
    return sorted(runs, key=lambda r: r["fps"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="a weights folder (default: tiny random weights)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3, help="alternating offline / live runs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--camera-speedup", type=float, default=2.0,
                        help="camera rate of the dropping run, as a multiple of the offline frames/s")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import torch

    sys.path.insert(0, str(REPO))
    from personalive_core.demo_inputs import draw_face
    from personalive_core.loading import load_models
    from personalive_core.tiny_weights import cached_tiny_weights

    torch.set_num_threads(args.threads)
    models = load_models(args.weights or cached_tiny_weights(), dtype="fp32", device="cpu")
    portrait, frames = draw_face(max(args.size, 96)), camera(args.frames, max(args.size, 96))
    offline(models, portrait, frames[:8], args.size)  # warm-up (allocator, kernels)
    bases, kepts = [], []
    for _ in range(args.rounds):
        bases.append(offline(models, portrait, frames, args.size))
        kepts.append(live_all_kept(models, portrait, frames, args.size))
    base = median_run(bases)
    kept = median_run(kepts)
    dropping = live_dropping(models, portrait, frames, args.size, args.camera_speedup * base["fps"],
                             3 * base["seconds"])
    figures = {"size": args.size, "frames": args.frames, "rounds": args.rounds, "threads": args.threads,
               "weights": args.weights or "tiny random", "offline": base, "live_all_kept": kept,
               "live_dropping": dropping, "live_over_offline_throughput": kept["fps"] / base["fps"],
               "offline_fps_runs": [r["fps"] for r in bases], "live_fps_runs": [r["fps"] for r in kepts]}
    spread = lambda runs: ", ".join(f"{r['fps']:.2f}" for r in runs)  # noqa: E731
    print(f"offline            {base['fps']:7.2f} frames/s  (median of {args.rounds} runs of {args.frames} frames: "
          f"{spread(bases)})")
    print(f"live, none dropped {kept['fps']:7.2f} frames/s  = {figures['live_over_offline_throughput']:.3f} x offline "
          f"({spread(kepts)}), median latency {kept['median_latency_s']:.2f} s (all frames queued at once)")
    print(f"live, dropping     {dropping['fps']:7.2f} frames/s  camera at {dropping['camera_fps']:.1f} frames/s: "
          f"{dropping['dropped']} of {dropping['sent']} dropped, median latency {dropping['median_latency_s']:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
