"""Running a batch in this process, job after job, with the models loaded once."""

from __future__ import annotations

from typing import Callable, Iterable

from .jobs import BatchJob
from .worker import JobResult, JobRunner


def crash_message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def run_local(jobs: Iterable[BatchJob], runner: JobRunner, retries: int = 2,
              on_result: Callable[[JobResult], None] | None = None) -> list[JobResult]:
    """Run `jobs` in order; a job that crashes is tried again up to `retries` times (continuing from its
    checkpoint), then reported as failed while the others go on."""
    results = []
    for job in jobs:
        attempt = 0
        while True:
            attempt += 1
            try:
                result = runner.run(job)
                break
            except Exception as exc:  # noqa: BLE001 - a crash fails this job only
                if attempt > retries:
                    result = JobResult(job, "failed", error=crash_message(exc), worker=runner.worker)
                    break
        result.attempts = attempt
        results.append(result)
        if on_result:
            on_result(result)
    return results
