"""Small helpers shared by several test files."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

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


@contextmanager
def chromium(extra_flags: list[str] = ()):
    """Debian's Chromium (CHROMIUM overrides the path) launched headless by Playwright, closed on exit;
    `unavailable` when it or Playwright is missing."""
    path = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(path).is_file():
        unavailable(f"browser tests need Debian's chromium at {path} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("browser tests need the playwright package (pip install playwright; no browser download)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS + list(extra_flags))
        try:
            yield browser
        finally:
            browser.close()


def manifest_layout(manifest: dict, file_key: str) -> dict[str, tuple[int, ...]]:
    """{key: shape} of one official file in the weights manifest."""
    return {k: tuple(s) for k, s, _ in manifest["files"][file_key]["state_dict"]}


def state_layout(module) -> dict[str, tuple[int, ...]]:
    """{key: shape} of a module's state dict."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}
