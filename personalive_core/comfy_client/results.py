"""What a ComfyUI server answers: errors meant for a person, and the outcome of one queued prompt."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ComfyError(RuntimeError):
    """Something went wrong talking to ComfyUI; the message is meant for a person."""


class ServerUnreachable(ComfyError):
    pass


class PromptRejected(ComfyError):
    """POST /prompt answered 400: the graph failed validation, nothing ran."""

    def __init__(self, body: dict[str, Any]):
        self.body = body
        super().__init__(format_rejection(body))


@dataclass
class RunResult:
    """What happened to one queued prompt."""

    prompt_id: str
    status: str = "running"  # "success" | "error" | "interrupted" | "timeout"
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # node id -> its "executed" output
    error: dict[str, Any] | None = None  # the execution_error / execution_interrupted message data
    cached: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def error_text(self) -> str:
        if self.status == "interrupted":
            node = (self.error or {}).get("node_type") or (self.error or {}).get("node_id") or "?"
            return f"the run was interrupted (in node {node})"
        if self.status == "timeout":
            return "gave up waiting for the run to finish (timeout)"
        if not self.error:
            return ""
        e = self.error
        return (
            f"node {e.get('node_id')} ({e.get('node_type')}) failed: "
            f"{e.get('exception_type', 'Error')}: {str(e.get('exception_message', '')).strip()}"
        )

    def raise_for_status(self) -> "RunResult":
        if not self.ok:
            raise ComfyError(self.error_text())
        return self


def format_rejection(body: dict[str, Any]) -> str:
    """A readable text of a POST /prompt 400 answer (top-level error plus every node error)."""
    err = body.get("error") or {}
    if isinstance(err, str):
        lines = [err]
    else:
        head = err.get("message") or err.get("type") or "prompt rejected"
        lines = [head + (f": {err['details']}" if err.get("details") else "")]
    for node_id, node in (body.get("node_errors") or {}).items():
        for e in node.get("errors", []):
            text = e.get("details") or ""
            lines.append(
                f"  node {node_id} ({node.get('class_type', '?')}): {e.get('message', e.get('type'))}"
                + (f": {text}" if text else "")
            )
    return "\n".join(lines)


def output_files(outputs: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(node id, file entry) for every file a run's outputs name ({"filename", "subfolder", "type"})."""
    found = []
    for node_id, out in outputs.items():
        for value in out.values():
            if isinstance(value, list):
                found.extend((node_id, v) for v in value if isinstance(v, dict) and "filename" in v)
    return found
