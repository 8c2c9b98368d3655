"""Talking to a running ComfyUI server from outside it (used by `python -m personalive_core queue`).

Stages: read an API-format workflow and set its inputs (`workflow`), upload the input files, queue the
prompt and follow it on the websocket (`client`), then report the outcome and fetch the outputs
(`results`). Standard library only (plus `websocket-client` when a run starts): no torch, no ComfyUI.
"""

from .client import ComfyClient
from .results import ComfyError, PromptRejected, RunResult, ServerUnreachable, format_rejection, output_files
from .workflow import apply_overrides, find_node, load_api_workflow, parse_value

__all__ = [
    "ComfyClient", "ComfyError", "PromptRejected", "RunResult", "ServerUnreachable", "apply_overrides",
    "find_node", "format_rejection", "load_api_workflow", "output_files", "parse_value",
]
