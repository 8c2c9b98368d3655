"""API-format workflow files: reading them and changing inputs with `NODE.INPUT=VALUE` assignments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

from .results import ComfyError

FILE_INPUT_NAMES = frozenset({"image", "video", "file", "audio", "mask"})


def load_api_workflow(path: str | Path) -> dict[str, Any]:
    """Read an API-format workflow ({node_id: {"class_type", "inputs"}}), refusing the UI format."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComfyError(f"workflow file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ComfyError(f"cannot read the workflow file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ComfyError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). Export the workflow "
            "again from ComfyUI (Workflow > Export (API)) or use one of workflows/api/."
        ) from None
    if isinstance(data, dict) and "prompt" in data and isinstance(data["prompt"], dict) and "nodes" not in data:
        data = data["prompt"]  # a saved POST /prompt body
    if isinstance(data, dict) and "nodes" in data and "links" in data:
        raise ComfyError(
            f"{path} is a UI-format workflow (what the editor saves). The API needs the API format: use the "
            "matching file in workflows/api/, or in ComfyUI choose Workflow > Export (API)."
        )
    if not isinstance(data, dict) or not all(isinstance(v, dict) and "class_type" in v for v in data.values()):
        raise ComfyError(f"{path} is not an API-format ComfyUI workflow ({{node_id: {{class_type, inputs}}}})")
    return data


def find_node(prompt: dict[str, Any], ref: str) -> str:
    """Node id for `ref`: a node id, a node title (`_meta.title`) or a class_type that occurs once."""
    if ref in prompt:
        return ref
    for key in ("title", "class_type"):
        hits = [
            nid
            for nid, node in prompt.items()
            if (node.get("_meta", {}).get("title") if key == "title" else node.get("class_type")) == ref
        ]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ComfyError(f"'{ref}' matches several nodes ({', '.join(hits)}); use a node id")
    known = ", ".join(f"{nid} ({n.get('_meta', {}).get('title') or n['class_type']})" for nid, n in prompt.items())
    raise ComfyError(f"no node '{ref}' in the workflow; nodes: {known}")


def parse_value(text: str) -> Any:
    """JSON when it parses (numbers, true/false, lists), otherwise the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(
    prompt: dict[str, Any],
    assignments: Iterable[str],
    upload: Callable[[Path], str] | None = None,
) -> dict[str, Any]:
    """Apply `node.input=value` assignments to an API workflow in place.

    `node` is a node id, title or unique class_type. A value `@PATH` is a local file to upload (with
    `upload`, which returns the name to use on the server); so is a plain value naming an existing file
    for inputs called image/video/file/audio/mask.
    """
    for item in assignments:
        target, sep, raw = item.partition("=")
        node_ref, dot, input_name = target.rpartition(".")
        if not sep or not dot or not node_ref or not input_name:
            raise ComfyError(f"bad assignment '{item}': expected NODE.INPUT=VALUE (e.g. Sampler.seed=7)")
        node_id = find_node(prompt, node_ref)
        inputs = prompt[node_id].setdefault("inputs", {})
        value: Any = parse_value(raw)
        local: Path | None = None
        if raw.startswith("@"):
            local = Path(raw[1:]).expanduser()
            if not local.is_file():
                raise ComfyError(f"{item}: file {local} not found")
        elif input_name in FILE_INPUT_NAMES and isinstance(value, str) and Path(raw).expanduser().is_file():
            local = Path(raw).expanduser()
        if local is not None:
            if upload is None:
                raise ComfyError(f"{item}: uploading files needs a server")
            value = upload(local)
        inputs[input_name] = value
    return prompt
