"""The end of a batch: a table of every job (job, frames, seconds, fps, status) and the same as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from ..text_table import text_table
from .worker import JobResult


def summary_table(results: Sequence[JobResult]) -> str:
    """A plain-text table, one row per job, failures' messages after it."""
    rows = []
    for r in results:
        status = r.status + (f" (attempt {r.attempts})" if r.attempts > 1 else "")
        status += f", resumed at frame {r.resumed_at}" if r.resumed_at else ""
        rows.append((r.job.name, r.frames, f"{r.seconds:.1f}", f"{r.fps:.2f}", status))
    lines = [text_table(("job", "frames", "seconds", "fps", "status"), rows)]
    lines += [f"{r.job.name} (line {r.job.line}): {r.error}" for r in results if r.status == "failed"]
    counts = {status: sum(r.status == status for r in results) for status in ("done", "skipped", "failed")}
    lines.append(", ".join(f"{n} {status}" for status, n in counts.items()))
    return "\n".join(lines)


def write_summary(results: Sequence[JobResult], path: str | Path) -> None:
    """The results as JSON (a list of objects), written under a temporary name and renamed."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps([r.to_dict() for r in results], indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
