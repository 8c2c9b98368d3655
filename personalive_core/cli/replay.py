"""`python -m personalive_core replay-golden CASE_DIR [--weights DIR]`: parity with the original."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path



def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay-golden", help="replay a recorded case of the original code and compare every stage")
    p.add_argument("case_dir", help="a golden case directory (layout.json, inputs/, golden/)")
    p.add_argument("--weights", help="weights folder of the case (default: generate them with the make_weights.py "
                                     "beside the case directory into a temporary folder)")
    p.add_argument("--free-running", action="store_true",
                   help="run the stream on its own state from start to end (gates output frames and decisions; "
                        "latent errors are reported only) instead of starting every call from the recorded state")
    p.add_argument("--quiet", action="store_true", help="print only the failures and the summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..parity.compare import format_table
    from ..parity.fixture import GoldenCase, generate_case_weights
    from ..parity.replay import replay_case

    try:
        GoldenCase(args.case_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}")
        return 2
    with tempfile.TemporaryDirectory(prefix="personalive-golden-") as tmp:
        weights = Path(args.weights) if args.weights else generate_case_weights(args.case_dir, Path(tmp) / "weights")
        rec = replay_case(args.case_dir, weights, echo=None, free_running=args.free_running)
    shown = [r for r in rec.results if not r.ok] if args.quiet else rec.results
    print(format_table(shown))
    failed = sum(not r.ok for r in rec.results)
    print(f"\n{len(rec.results) - failed} passed, {failed} failed")
    return 1 if failed else 0
