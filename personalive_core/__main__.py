"""Command line: `python -m personalive_core <command> ...` (see `--help`)."""

from __future__ import annotations

import argparse
import sys

from . import cli_animate, cli_demo, cli_inspect, cli_queue, cli_replay
from .errors import PersonaLiveError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m personalive_core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (cli_animate, cli_demo, cli_inspect, cli_queue, cli_replay):
        module.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PersonaLiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
