"""`python -m personalive_core make-demo-inputs FOLDER`: a drawn portrait and driving video to try things."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("make-demo-inputs", help="write a synthetic portrait.png and driving.mp4 (with audio)")
    p.add_argument("folder")
    p.add_argument("--frames", type=int, default=24)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo_inputs import write_demo_inputs

    portrait, video = write_demo_inputs(args.folder, frames=args.frames)
    print(f"wrote {portrait} and {video}")
    return 0
