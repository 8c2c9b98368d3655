"""The command line, `python -m personalive_core <command>`: one module per command.

Commands: `animate` (portrait + driving video -> a video), `batch` (many clips, here or on Ray),
`inspect-weights` (check a weights folder), `live` (the webcam page, without ComfyUI), `make-demo-inputs` (a synthetic portrait and driving
video), `queue` (run a workflow on a ComfyUI server), `replay-golden` (parity with recordings of the original code). Each module imports the
library only when its command runs, so `queue` and `--help` start without importing torch.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import PersonaLiveError
from . import animate, batch, demo, inspect, live, queue, replay

COMMANDS = (animate, batch, demo, inspect, live, queue, replay)


def main(argv: list[str] | None = None) -> int:
    """Parse `argv`, run the command, and turn a `PersonaLiveError` into a message and exit status 2."""
    parser = argparse.ArgumentParser(prog="python -m personalive_core",
                                     description="PersonaLive portrait animation in plain PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PersonaLiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
