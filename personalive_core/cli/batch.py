"""`python -m personalive_core batch JOBS`: render every job of a .jsonl or .csv file, here or on Ray."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="render many clips from a jobs file (.jsonl or .csv), resumably, optionally on Ray")
    p.add_argument("jobs", help="jobs file: columns reference, driving, output, and optionally seed, size, precision, "
                                "include_lead_in, decode_chunk, pose_strength, expression_strength, motion_mode, smoothing, "
                                "paste_back, crop_scale (relative paths are from the jobs file's folder)")
    p.add_argument("--weights", help="weights folder in the official layout (see inspect-weights)")
    p.add_argument("--tiny-random-weights", action="store_true", help="tiny RANDOM weights: a demo, the outputs are noise")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, mps or auto (on Ray: each worker's GPU)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on Ray: a cluster's address (e.g. ray://head:10001 or auto), or none for a local Ray")
    p.add_argument("--workers", type=int, help="Ray workers (default: one per GPU, else one per --cpus-per-worker)")
    p.add_argument("--cpus-per-worker", type=int, default=1, help="CPU cores each Ray worker reserves (default 1)")
    p.add_argument("--retries", type=int, default=2, help="times a crashed job is tried again (default 2)")
    p.add_argument("--checkpoint-every", type=int, default=10, metavar="K", help="checkpoint every K windows")
    p.add_argument("--work-dir", help="local folder for URL inputs and outputs (default: the system temp folder)")
    p.add_argument("--summary", help="where to write the JSON summary (default: JOBS.summary.json)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..batch.jobs import read_jobs
    from ..batch.summary import summary_table, write_summary
    from ..errors import InputError

    jobs = read_jobs(args.jobs)
    if bool(args.weights) == bool(args.tiny_random_weights):
        raise InputError("Give either --weights ROOT (the official weights) or --tiny-random-weights (a noise demo).")
    weights = args.weights
    if args.tiny_random_weights:
        from ..tiny_weights import cached_tiny_weights

        weights = str(cached_tiny_weights())
    bar = _progress_bar(len(jobs))

    def frames_done(job, frames) -> None:
        bar.set_postfix_str(f"{job.name}: {frames} frames")

    def finished(result) -> None:
        bar.set_postfix_str(f"{result.job.name}: {result.status}, {result.frames} frames")
        bar.update(1)

    try:
        if args.ray is None:
            results = _run_here(jobs, weights, args, finished, frames_done)
        else:
            from ..batch.on_ray import run_on_ray

            results = run_on_ray(jobs, weights, address=args.ray or None, workers=args.workers, device=args.device,
                                 checkpoint_every=args.checkpoint_every, work_dir=args.work_dir,
                                 retries=args.retries, cpus_per_worker=args.cpus_per_worker, on_result=finished,
                                 on_frames=frames_done)
    except KeyboardInterrupt:
        bar.close()
        print("\ninterrupted: run the same command again to skip finished jobs and resume the others",
              file=sys.stderr)
        return 130
    bar.close()
    print(summary_table(results))
    summary = args.summary or f"{args.jobs}.summary.json"
    write_summary(results, summary)
    print(f"summary: {summary}")
    return 1 if any(r.status == "failed" for r in results) else 0


def _run_here(jobs, weights, args, finished, frames_done):
    from ..batch.local import run_local
    from ..batch.worker import JobRunner

    runner = JobRunner(weights, args.device, args.checkpoint_every, args.work_dir, progress=frames_done)
    return run_local(jobs, runner, retries=args.retries, on_result=finished)


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="job", file=sys.stderr, dynamic_ncols=True)
