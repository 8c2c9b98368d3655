"""Where a resumable render keeps its progress: next to the output, a folder `OUTPUT.resume/` with the
frames rendered so far (lossless PNG) and the last checkpoint of the streaming state, written atomically.

A checkpoint records what the render was made from (`fingerprint`): a checkpoint of another reference,
driving video, size, seed or other option is refused instead of being continued into a wrong video.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import torch

from .errors import InputError
from .output_path import progress_folder

CHECKPOINT = "checkpoint.pt"
FRAMES = "frames"


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (inputs are identified by content, not by name or date)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ResumeStore:
    """The progress folder of one output. `load` returns the last checkpoint (or None), `save` replaces it
    atomically, `remove` deletes the folder once the output is complete."""

    def __init__(self, output: str | Path, fingerprint: dict):
        self.folder = progress_folder(output)
        self.frames = self.folder / FRAMES
        self.fingerprint = {key: str(value) for key, value in fingerprint.items()}

    @property
    def checkpoint(self) -> Path:
        return self.folder / CHECKPOINT

    def load(self) -> dict | None:
        """The saved state when there is a checkpoint made from the same inputs and options; raises
        `InputError` naming what differs when it was made from others."""
        if not self.checkpoint.exists():
            return None
        try:
            saved = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - a damaged checkpoint is reported, not trusted
            raise InputError(f"The checkpoint {self.checkpoint} cannot be read ({exc}). Delete {self.folder} "
                             "to start the render over.") from None
        differ = [key for key in sorted(set(saved["fingerprint"]) | set(self.fingerprint))
                  if saved["fingerprint"].get(key) != self.fingerprint.get(key)]
        if differ:
            was = ", ".join(f"{key} {_short(saved['fingerprint'].get(key))} (now {_short(self.fingerprint.get(key))})"
                            for key in differ)
            raise InputError(f"The checkpoint in {self.folder} belongs to another render: it was made with {was}. "
                             f"Run with the same inputs and options, or delete {self.folder} to start over.")
        return saved["state"]

    def save(self, state: dict) -> None:
        """Replace the checkpoint with `state`, atomically (a crash while saving keeps the previous one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.checkpoint.with_suffix(".partial")
        with open(partial, "wb") as file:
            torch.save({"fingerprint": self.fingerprint, "state": state}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, self.checkpoint)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _short(value: str | None) -> str:
    if value is None:
        return "unset"
    return value[:12] if len(value) == 64 else value  # digests shortened like git's
