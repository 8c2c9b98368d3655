"""Small helpers shared by several test files."""

from __future__ import annotations


def manifest_layout(manifest: dict, file_key: str) -> dict[str, tuple[int, ...]]:
    """{key: shape} of one official file in the weights manifest."""
    return {k: tuple(s) for k, s, _ in manifest["files"][file_key]["state_dict"]}


def state_layout(module) -> dict[str, tuple[int, ...]]:
    """{key: shape} of a module's state dict."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}
