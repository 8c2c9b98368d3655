"""Reading JSON Lines job files (`batch` and `queue --jobs`): one JSON object per line, blank lines
and lines starting with '#' ignored, errors naming the file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator


def json_lines(path: Path, error: type[Exception], expected: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each line of `path`; raises `error` naming the line when it is not a
    JSON object (`expected` says what the line should hold)."""
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(f"{path}, line {line}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
        if not isinstance(row, dict):
            raise error(f"{path}, line {line}: expected {expected}.")
        yield line, row
