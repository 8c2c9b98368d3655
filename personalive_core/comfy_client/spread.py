"""One workflow, many prompts, several ComfyUI servers: each server runs one prompt at a time, taking
the next job when it is free. Jobs come from a JSON Lines file, one per line:

    {"set": {"Reference portrait.image": "@me.png", "Sampler.seed": 7}, "output_dir": "out/me"}

`set` holds `NODE.INPUT: VALUE` assignments (as `queue --set`; `@PATH` uploads a file, relative to the
jobs file); `output_dir` is where the outputs go (default: JOBS/job-LINE next to the jobs file). A job
whose output folder holds `queue-result.json` is finished and skipped; a failed run is retried (on any
server) a bounded number of times; a server that stops answering leaves its job to the others.
"""

from __future__ import annotations

import copy
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..jsonl import json_lines
from .client import ComfyClient
from .results import ComfyError, PromptRejected, ServerUnreachable
from .workflow import apply_overrides

DONE_MARKER = "queue-result.json"


@dataclass(frozen=True)
class QueueJob:
    line: int
    assignments: tuple[str, ...]
    output_dir: Path


@dataclass
class QueueJobResult:
    job: QueueJob
    status: str  # "done" | "skipped" | "failed"
    server: str = ""
    seconds: float = 0.0
    prompt_id: str = ""
    files: list[str] = field(default_factory=list)
    error: str = ""
    attempts: int = 0
    retryable: bool = False  # the run itself failed (not the job's input): worth another try

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.job.line, "output_dir": str(self.job.output_dir), "status": self.status,
                "server": self.server, "seconds": round(self.seconds, 3), "prompt_id": self.prompt_id,
                "files": self.files, "error": self.error, "attempts": self.attempts}


def read_queue_jobs(path: str | Path) -> list[QueueJob]:
    """The jobs of a .jsonl file; raises `ComfyError` naming the file and line at fault."""
    path = Path(path)
    if not path.is_file():
        raise ComfyError(f"jobs file not found: {path}")
    jobs = []
    expected = '{"set": {"NODE.INPUT": VALUE, ...}, "output_dir": DIR}'
    for line, row in json_lines(path, ComfyError, expected):
        if not isinstance(row.get("set", {}), dict) or set(row) - {"set", "output_dir"}:
            raise ComfyError(f"{path}, line {line}: expected {expected}.")
        assignments = tuple(_assignment(key, value, path.parent) for key, value in row.get("set", {}).items())
        output = Path(row.get("output_dir") or Path(path.stem) / f"job-{line}")
        jobs.append(QueueJob(line, assignments, output if output.is_absolute() else path.parent / output))
    if not jobs:
        raise ComfyError(f"{path} holds no jobs")
    return jobs


def _assignment(key: str, value: Any, folder: Path) -> str:
    if isinstance(value, str):
        if value.startswith("@") and not Path(value[1:]).expanduser().is_absolute():
            value = "@" + str(folder / value[1:])
        return f"{key}={value}"
    return f"{key}={json.dumps(value)}"


def spread_jobs(prompt: dict, jobs: Sequence[QueueJob], servers: Sequence[str], retries: int = 2,
                timeout: float | None = None, download: bool = True,
                on_result: Callable[[QueueJobResult], None] | None = None) -> list[QueueJobResult]:
    """Run `prompt` once per job over `servers` (one prompt at a time each); results in the jobs' order."""
    results: dict[int, QueueJobResult] = {}
    waiting: queue.Queue = queue.Queue()
    lock = threading.Lock()
    for job in jobs:
        if (job.output_dir / DONE_MARKER).exists():
            results[job.line] = QueueJobResult(job, "skipped")
        else:
            waiting.put((job, 1))

    def finish(result: QueueJobResult) -> None:
        with lock:
            results[result.job.line] = result
        if on_result:
            on_result(result)

    def serve(server: str) -> None:
        client = ComfyClient(server)
        while len(results) < len(jobs):
            try:
                job, attempt = waiting.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                result = _run_one(client, prompt, job, timeout, download)
            except ServerUnreachable as exc:
                waiting.put((job, attempt))  # not the job's fault: another server takes it
                with lock:
                    unreachable[server] = str(exc)
                return
            result.attempts = attempt
            if result.retryable and attempt <= retries:
                waiting.put((job, attempt + 1))
            else:
                finish(result)

    unreachable: dict[str, str] = {}
    threads = [threading.Thread(target=serve, args=(server,), daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    while not waiting.empty():  # every server stopped answering
        job, attempt = waiting.get()
        finish(QueueJobResult(job, "failed", error="no server left: " + "; ".join(unreachable.values()),
                              attempts=attempt))
    return [results[job.line] for job in jobs]


def _run_one(client: ComfyClient, template: dict, job: QueueJob, timeout: float | None,
             download: bool) -> QueueJobResult:
    started = time.time()
    prompt = copy.deepcopy(template)
    try:
        apply_overrides(prompt, job.assignments, client.upload)
        run = client.run(prompt, timeout=timeout)
    except PromptRejected as exc:
        return QueueJobResult(job, "failed", client.base_url, error=f"rejected by ComfyUI: {exc}")
    except ServerUnreachable:
        raise
    except (ComfyError, OSError) as exc:
        return QueueJobResult(job, "failed", client.base_url, error=str(exc))
    if not run.ok:
        return QueueJobResult(job, "failed", client.base_url, time.time() - started, run.prompt_id,
                              error=f"run failed: {run.error_text()}", retryable=True)
    files = [str(f) for f in client.download_outputs(run, job.output_dir)] if download else []
    result = QueueJobResult(job, "done", client.base_url, time.time() - started, run.prompt_id, files)
    job.output_dir.mkdir(parents=True, exist_ok=True)
    marker = job.output_dir / DONE_MARKER
    marker.with_suffix(".partial").write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(marker.with_suffix(".partial"), marker)
    return result
