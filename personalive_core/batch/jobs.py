"""A batch's jobs, read from a JSON Lines or CSV file: one clip per line, with its own options.

Columns: `reference`, `driving`, `output` (required) and any of `seed`, `size`, `precision`,
`include_lead_in`, `decode_chunk`, `pose_strength`, `expression_strength`, `motion_mode`, `smoothing`,
`paste_back`, `crop_scale`.
Relative paths are taken from the jobs file's folder; a path with a scheme (`s3://...`, `gs://...`,
`memory://...`) is opened with fsspec.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..errors import InputError
from ..jsonl import json_lines

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


@dataclass(frozen=True)
class BatchJob:
    """One clip to render, with the options that `animate` takes."""

    reference: str
    driving: str
    output: str
    seed: int = 42
    size: int = 512
    precision: str = "auto"
    include_lead_in: bool = False
    decode_chunk: int = 4
    pose_strength: float = 1.0
    expression_strength: float = 1.0
    motion_mode: str = "absolute"
    smoothing: float = 0.0
    paste_back: bool = False
    crop_scale: float = 2.0
    line: int = 0  # where the job is in the jobs file (for messages)

    @property
    def name(self) -> str:
        return Path(self.output.rstrip("/")).name

    def to_dict(self) -> dict:
        return asdict(self)


REQUIRED = ("reference", "driving", "output")
OPTIONS = {f.name: f.type for f in fields(BatchJob) if f.name not in REQUIRED + ("line",)}


def read_jobs(path: str | Path) -> list[BatchJob]:
    """The jobs of a `.jsonl` or `.csv` file; raises `InputError` naming the file, line and field at fault."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Jobs file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise InputError(f"Cannot read jobs from {path.name!r}: give a .jsonl (one JSON object per line) or .csv file.")
    rows = (json_lines(path, InputError, "a JSON object with reference, driving and output") if suffix == ".jsonl"
            else _csv_rows(path))
    jobs = [_job(row, line, path) for line, row in rows]
    if not jobs:
        raise InputError(f"{path} holds no jobs.")
    outputs: dict[str, int] = {}
    for job in jobs:
        if job.output in outputs:
            raise InputError(f"{path}, lines {outputs[job.output]} and {job.line}: both write {job.output}; "
                             "give every job its own output.")
        outputs[job.output] = job.line
    return jobs


def _csv_rows(path: Path):
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        for row in reader:
            yield reader.line_num, {key.strip(): value.strip() for key, value in row.items()
                                    if key and value is not None and value.strip() != ""}


def _job(row: dict, line: int, path: Path) -> BatchJob:
    where = f"{path}, line {line}"
    unknown = sorted(set(row) - set(REQUIRED) - set(OPTIONS))
    if unknown:
        raise InputError(f"{where}: unknown column(s) {', '.join(unknown)}; known: "
                         f"{', '.join(REQUIRED + tuple(OPTIONS))}.")
    missing = [key for key in REQUIRED if not row.get(key)]
    if missing:
        raise InputError(f"{where}: {', '.join(missing)} missing.")
    values = {key: _resolve(str(row[key]), path.parent) for key in REQUIRED}
    for key, kind in OPTIONS.items():
        if key in row:
            values[key] = _typed(row[key], kind, f"{where}, {key}")
    if values.get("precision", "auto") not in PRECISIONS:
        raise InputError(f"{where}: precision must be one of {', '.join(PRECISIONS)}; got {values['precision']!r}.")
    return BatchJob(**values, line=line)


def _resolve(value: str, folder: Path) -> str:
    if "://" in value:
        return value
    keep_slash = "/" if value.endswith("/") else ""
    resolved = Path(value).expanduser()
    return str(resolved if resolved.is_absolute() else folder / resolved) + keep_slash


def _typed(value, kind: str, where: str):
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes"):
                return True
            if str(value).lower() in ("0", "false", "no"):
                return False
            raise ValueError
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        return str(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {value!r} is not a valid {kind}.") from None
