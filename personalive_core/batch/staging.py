"""Inputs and outputs named by URL (anything fsspec opens: s3://, gs://, http(s)://, memory://) are
copied to a local work folder for the render, and the output is uploaded under a temporary name then
moved into place. Plain paths are used as they are."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from ..errors import InputError


def is_url(path: str) -> bool:
    return "://" in path


def _filesystem(url: str):
    try:
        import fsspec
    except ImportError:
        raise InputError(f"{url} is a URL; install fsspec (pip install fsspec) to read and write URLs.") from None
    try:
        fs, inner = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise InputError(f"Cannot open {url}: {exc}. Install the fsspec backend for this scheme.") from None
    return fs, inner


def _local_name(url: str, work_dir: Path) -> Path:
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    return work_dir / key / Path(url.rstrip("/")).name


def fetch_input(path: str, work_dir: Path) -> str:
    """A local path for `path`: itself, or a copy of the URL's file in `work_dir`."""
    if not is_url(path):
        return path
    fs, inner = _filesystem(path)
    local = _local_name(path, work_dir)
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        fs.get(inner, str(local))
    except FileNotFoundError:
        raise InputError(f"Input not found: {path}") from None
    return str(local)


def output_exists(path: str) -> bool:
    """Whether a finished output is already there (its render's progress folder is gone)."""
    if is_url(path):
        fs, inner = _filesystem(path)
        return fs.exists(inner)
    from ..output_path import progress_folder

    target = Path(path)
    if target.is_dir():
        return any(target.glob("frame_*.png")) and not progress_folder(target).exists()
    return target.exists() and not progress_folder(target).exists()


def local_output(path: str, work_dir: Path) -> str:
    """Where the render writes: `path`, or for a URL a stable local path (so a retried job resumes)."""
    if not is_url(path):
        return path
    local = _local_name(path, work_dir)
    local.parent.mkdir(parents=True, exist_ok=True)
    return str(local) + ("/" if path.endswith("/") else "")


def publish_output(local: str, path: str) -> None:
    """Upload a finished local output to its URL: under a temporary name, then moved into place."""
    if not is_url(path):
        return
    fs, inner = _filesystem(path)
    partial = inner.rstrip("/") + ".partial"
    fs.put(local.rstrip("/"), partial, recursive=Path(local).is_dir())
    fs.mv(partial, inner.rstrip("/"), recursive=Path(local).is_dir())
    shutil.rmtree(Path(local).parent, ignore_errors=True)
