"""Batch throughput on Ray (1 vs 2 workers) and what resumable rendering's checkpoints cost.

(a) The same jobs rendered by `batch.on_ray.run_on_ray` with 1 worker, then with 2 (one CPU core
    each, a local Ray started once): jobs per hour, end to end (actors start and load the models).
(b) One clip rendered resumably with a checkpoint after every window: the time spent saving
    checkpoints per window, as a share of the render time per window, at K=1 and (divided by 10) at
    K=10; and the whole resumable run (lossless frames kept, video encoded at the end) against a plain
    progressive run.

Tiny random weights at 64 px make rendering far cheaper than the real model, so the checkpoint
share measured here is an upper bound for real weights (a checkpoint's size follows the working
size, not the weights).

    python bench/batch.py [--jobs 4] [--frames 24]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personalive_core.batch.jobs import read_jobs  # noqa: E402
from personalive_core.demo_inputs import write_demo_inputs  # noqa: E402
from personalive_core.tiny_weights import cached_tiny_weights  # noqa: E402


def ray_throughput(folder: Path, weights: str, jobs: int, frames: int) -> dict:
    from personalive_core.batch.on_ray import run_on_ray, start_ray

    portrait, video = write_demo_inputs(folder, size=64, frames=frames, fps=10)
    ray = start_ray(num_cpus=2)
    rates = {}
    try:
        for workers in (1, 2):
            jobs_file = folder / f"jobs{workers}.jsonl"
            jobs_file.write_text("".join(json.dumps({"reference": str(portrait), "driving": str(video), "size": 64,
                                                     "output": f"w{workers}/{i}.mp4", "seed": i}) + "\n"
                                         for i in range(jobs)))
            started = time.perf_counter()
            results = run_on_ray(read_jobs(jobs_file), weights, workers=workers)
            seconds = time.perf_counter() - started
            assert all(r.status == "done" for r in results), [r.error for r in results]
            rates[workers] = jobs / seconds * 3600
    finally:
        ray.shutdown()
    return rates


def checkpoint_cost(folder: Path, weights: str, frames: int) -> dict:
    from personalive_core.loading import load_models
    from personalive_core.output_path import check_output_path
    from personalive_core.render import Render, RenderOptions, render_fingerprint
    from personalive_core.resume_store import ResumeStore
    from personalive_core.video_io import open_image, probe_driving

    portrait_path, video = write_demo_inputs(folder / "one", size=64, frames=frames, fps=10)
    models = load_models(weights)
    portrait, driving, options = open_image(portrait_path), probe_driving(video), RenderOptions(size=64, seed=1)
    fingerprint = render_fingerprint(portrait_path, driving, options, weights, models.dtype, models.device)
    saving = []
    real_save = ResumeStore.save

    def timed_save(self, state):
        started = time.perf_counter()
        real_save(self, state)
        saving.append(time.perf_counter() - started)

    ResumeStore.save = timed_save
    try:
        started = time.perf_counter()
        Render(models, portrait, driving, check_output_path(folder / "resumable.mp4"), options).run_resumable(
            fingerprint, checkpoint_every=1)
        resumable = time.perf_counter() - started
    finally:
        ResumeStore.save = real_save
    started = time.perf_counter()
    Render(models, portrait, driving, check_output_path(folder / "plain.mp4"), options).run()
    plain = time.perf_counter() - started
    windows = frames / 4
    per_window_render = plain / windows
    per_save = sum(saving) / len(saving)
    return {"save_ms": per_save * 1000, "render_ms_per_window": per_window_render * 1000,
            "share_k1": per_save / per_window_render, "share_k10": per_save / 10 / per_window_render,
            "resumable_over_plain": resumable / plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()
    weights = str(cached_tiny_weights())
    with tempfile.TemporaryDirectory() as tmp:
        cost = checkpoint_cost(Path(tmp), weights, args.frames)
        rates = ray_throughput(Path(tmp), weights, args.jobs, args.frames)
    print(f"Ray, {args.jobs} jobs of {args.frames} frames (tiny weights, 64 px):")
    print(f"  1 worker : {rates[1]:.0f} jobs/hour")
    print(f"  2 workers: {rates[2]:.0f} jobs/hour ({rates[2] / rates[1]:.2f}x)")
    print(f"Checkpoints: {cost['save_ms']:.1f} ms each; a window renders in {cost['render_ms_per_window']:.0f} ms")
    print(f"  share of render time: {cost['share_k1']:.2%} at K=1, {cost['share_k10']:.2%} at K=10")
    print(f"  resumable run / plain run (frames kept as PNG, video encoded at the end): "
          f"{cost['resumable_over_plain']:.2f}x")


if __name__ == "__main__":
    main()
