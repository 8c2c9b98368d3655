"""Running a batch on Ray: one actor per GPU (or per group of CPU cores) loads the models once and
renders jobs one after another; a job whose worker dies is retried on another (from its checkpoint).
`ray.init()` without an address starts a local Ray in this process; the same code runs on a cluster."""

from __future__ import annotations

from collections import deque
from typing import Callable, Sequence

from ..errors import InputError
from .jobs import BatchJob
from .local import crash_message
from .worker import JobResult, JobRunner


class RenderActor:
    """A `JobRunner` inside a Ray worker process; reports (job line, frames done) to `progress` (a
    `ray.util.queue.Queue`) when given."""

    def __init__(self, weights: str, device: str, checkpoint_every: int, work_dir: str | None, progress=None):
        report = None if progress is None else (lambda job, frames: progress.put_nowait((job.line, frames)))
        self.runner = JobRunner(weights, device, checkpoint_every, work_dir, progress=report)

    def run(self, job: BatchJob) -> JobResult:
        return self.runner.run(job)

    def pid(self) -> int:
        import os

        return os.getpid()


def start_ray(address: str | None = None, num_cpus: int | None = None):
    """Connect to the Ray cluster at `address`, or start a local one; the package travels to the workers."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'ray>=2.40' (or run the batch without --ray).") from None
    import personalive_core

    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, runtime_env={"py_modules": [personalive_core]})
    return ray


def run_on_ray(jobs: Sequence[BatchJob], weights: str, address: str | None = None, workers: int | None = None,
               device: str = "auto", checkpoint_every: int = 10, work_dir: str | None = None, retries: int = 2,
               cpus_per_worker: int = 1, on_result: Callable[[JobResult], None] | None = None,
               on_actors: Callable[[list], None] | None = None,
               on_frames: Callable[[BatchJob, int], None] | None = None) -> list[JobResult]:
    """Spread `jobs` over Ray actors; returns the results in the order the jobs were given.
    `on_frames(job, frames)` hears of every chunk the workers write (for a progress bar)."""
    ray = start_ray(address)
    progress = None
    if on_frames is not None:
        from ray.util.queue import Queue

        progress = Queue()
    by_line = {job.line: job for job in jobs}
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if workers is None:
        workers = gpus or max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus_per_worker)
    actor_class = ray.remote(num_gpus=1 if gpus else 0, num_cpus=cpus_per_worker, max_restarts=0)(RenderActor)

    def new_actor():
        return actor_class.remote(weights, device if not gpus else "cuda", checkpoint_every, work_dir, progress)

    actors = [new_actor() for _ in range(workers)]
    if on_actors:
        on_actors(actors)
    idle, waiting, running = list(actors), deque((job, 1) for job in jobs), {}
    results: dict[int, JobResult] = {}
    while waiting or running:
        while waiting and idle:
            job, attempt = waiting.popleft()
            actor = idle.pop(0)
            running[actor.run.remote(job)] = (job, attempt, actor)
        done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
        while progress is not None and not progress.empty():
            line, frames = progress.get_nowait()
            on_frames(by_line[line], frames)
        if not done:
            continue
        ref = done[0]
        job, attempt, actor = running.pop(ref)
        try:
            result = ray.get(ref)
            idle.append(actor)
        except ray.exceptions.RayActorError as exc:  # the worker died (killed, out of memory, node lost)
            idle.append(new_actor())
            result = _retry_or_fail(job, attempt, retries, f"worker died: {crash_message(exc)}", waiting)
        except ray.exceptions.RayTaskError as exc:  # the render crashed in a live worker
            idle.append(actor)
            result = _retry_or_fail(job, attempt, retries, crash_message(exc.cause or exc), waiting)
        if result is not None:
            result.attempts = attempt
            results[job.line] = result
            if on_result:
                on_result(result)
    return [results[job.line] for job in jobs]


def _retry_or_fail(job, attempt, retries, error, waiting) -> JobResult | None:
    if attempt <= retries:
        waiting.append((job, attempt + 1))
        return None
    return JobResult(job, "failed", error=error)
