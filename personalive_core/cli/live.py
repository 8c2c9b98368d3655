"""`python -m personalive_core live --weights ROOT`: the live page and its WebSocket, without ComfyUI."""

from __future__ import annotations

import argparse
import sys

DEFAULT_PORT = 8190


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="serve the live webcam page (a camera drives the portrait) on this machine")
    p.add_argument("--weights", action="append", default=[], metavar="ROOT",
                   help="weights folder in the official layout (repeat to offer several)")
    p.add_argument("--tiny-random-weights", action="store_true",
                   help="try it without downloads: tiny RANDOM weights (the output is noise)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, mps or auto")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--size", type=int, default=512, help="the page's default working size")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aiohttp import web

    from ..devices import resolve_device
    from ..errors import InputError
    from ..live.service import PAGE, FolderModels, LiveService
    from ..weights.official import locate

    if not args.weights and not args.tiny_random_weights:
        raise InputError("Give --weights ROOT (the official weights) or --tiny-random-weights (a noise demo).")
    roots = {}
    for folder in args.weights:
        root = Path(folder).expanduser()
        locate(root)  # a missing file is reported now, not when the first client starts
        roots[root.name or str(root)] = root
    if args.tiny_random_weights:
        from ..tiny_weights import cached_tiny_weights

        roots["tiny-random"] = Path(cached_tiny_weights())
        print("NOTE: tiny RANDOM weights: the page shows the pipeline running, and the output is noise.",
              file=sys.stderr)
    service = LiveService(FolderModels(roots, args.precision, str(resolve_device(args.device))), args.size)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.add_routes(service.routes())
    app.router.add_get("/", service.page)
    print(f"PersonaLive live page: http://{args.host}:{args.port}/  (Ctrl-C stops)", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None, handle_signals=True)
    return 0
