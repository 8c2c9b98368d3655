"""`python -m personalive_core inspect-weights ROOT`: check a downloaded weights folder."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect-weights", help="check a PersonaLive weights folder file by file")
    p.add_argument("root", help="folder holding personalive/, sd-image-variations-diffusers/ and sd-vae-ft-mse/")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..models.catalog import NETWORKS
    from ..weights.inspect import inspect_weights

    results = inspect_weights(args.root, NETWORKS.values())
    for status in results:
        print(status.line())
    bad = [r for r in results if not (r.loadable or (r.path is not None and r.path.suffix == ".json"))]
    if bad:
        print(f"\n{len(bad)} file(s) missing or not loadable: the layout under {args.root} cannot be loaded.")
        return 1
    print(f"\nAll {len(results)} files found and their keys match: the weights under {args.root} are loadable.")
    return 0
