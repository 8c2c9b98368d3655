"""Small helpers shared by several test files."""

from __future__ import annotations

import os

import pytest

# Debian's Chromium under Playwright, headless on a machine without a GPU or network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def unavailable(reason: str):
    """Skip on a user's machine; in CI (CI=true) a missing prerequisite is a failure."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def manifest_layout(manifest: dict, file_key: str) -> dict[str, tuple[int, ...]]:
    """{key: shape} of one official file in the weights manifest."""
    return {k: tuple(s) for k, s, _ in manifest["files"][file_key]["state_dict"]}


def state_layout(module) -> dict[str, tuple[int, ...]]:
    """{key: shape} of a module's state dict."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}
