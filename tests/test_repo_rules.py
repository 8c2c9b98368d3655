"""Rules of the project that are cheap to check mechanically."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = [p for p in REPO.rglob("*.py") if ".venv" not in p.parts and "artifacts" not in p.parts]


def test_core_library_never_imports_comfyui():
    pattern = re.compile(r"^\s*(import|from)\s+(comfy|folder_paths|latent_preview|nodes)\b", re.M)
    offenders = [str(p) for p in (REPO / "personalive_core").rglob("*.py") if pattern.search(p.read_text())]
    assert not offenders, f"personalive_core must stay plain PyTorch: {offenders}"


def test_every_torch_load_refuses_code():
    needle = "torch." + "load("  # spelled in two parts so that this line is not a call itself
    calls = [(p, line) for p in SOURCES for line in p.read_text().splitlines() if needle in line]
    assert calls, "the pattern should find the loader's own call"
    unsafe = [f"{p}: {line.strip()}" for p, line in calls if "weights_only=True" not in line]
    assert not unsafe, unsafe


def test_requirements_never_pull_torch():
    for name in ("requirements.txt", "pyproject.toml"):
        text = (REPO / name).read_text()
        assert not re.search(r'^\s*"?torch(vision|audio)?\b', text, re.M), f"{name} must not list torch"
