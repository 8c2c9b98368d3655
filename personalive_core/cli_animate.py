"""`python -m personalive_core animate`: animate a portrait with a driving video, headless."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("animate", help="animate a portrait with a driving video or image and write an MP4")
    p.add_argument("--reference", required=True, help="portrait image (any size; stretched to --size as the original)")
    p.add_argument("--driving", required=True, help="driving video (any format FFmpeg reads) or a single image")
    p.add_argument("--output", required=True, help="output .mp4 (frame rate and audio of the driving video)")
    p.add_argument("--weights", help="weights folder in the official layout (see inspect-weights)")
    p.add_argument("--tiny-random-weights", action="store_true",
                   help="demo without downloads: generate tiny RANDOM weights; the output is noise")
    p.add_argument("--seed", type=int, default=42, help="noise seed; the same seed gives the same video")
    p.add_argument("--size", type=int, default=512, help="working resolution (multiple of 64; 512 as trained)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps or auto")
    p.add_argument("--include-lead-in", action="store_true",
                   help="also write the 12 frames that move from the reference pose to the first driving pose")
    p.add_argument("--decode-chunk", type=int, default=4, help="frames decoded at once by the VAE")
    p.set_defaults(func=run)


def _device(name: str) -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def run(args: argparse.Namespace) -> int:
    from .decoding import decode_chunks, unscale
    from .errors import InputError
    from .loading import load_models
    from .reference import encode_reference
    from .streaming.animate import LatentStream
    from .streaming.noise import SeededNoise
    from .video_io import VideoWriter, open_image, read_frames, video_fps

    if args.size % 64:
        raise InputError(f"--size must be a multiple of 64, got {args.size}")
    if bool(args.weights) == bool(args.tiny_random_weights):
        raise InputError("Give either --weights ROOT (the official weights) or --tiny-random-weights (a noise demo).")
    weights = args.weights
    if args.tiny_random_weights:
        from .tiny_weights import cached_tiny_weights

        weights = cached_tiny_weights()
        print("NOTE: tiny RANDOM weights: the output shows the pipeline running, and is noise.", file=sys.stderr)
    device = _device(args.device)
    started = time.time()
    models = load_models(weights, dtype=args.precision, device=device)
    reference = encode_reference(models, open_image(args.reference), size=args.size)
    stream = LatentStream(models, reference, SeededNoise(args.seed))
    writer = VideoWriter(args.output, video_fps(args.driving), audio_from=args.driving)
    written = 0
    try:
        for chunk in stream.run(read_frames(args.driving, args.size), include_lead_in=args.include_lead_in):
            for frames in decode_chunks(models.vae, unscale(chunk.latents), args.decode_chunk):
                writer.write(frames)
                written += frames.shape[0]
            rate = written / max(time.time() - started, 1e-9)
            print(f"\r{written} frames written ({rate:.2f} frames/s)", end="", file=sys.stderr, flush=True)
    finally:
        writer.close()  # keep what was produced, even after an error or Ctrl-C
        print(file=sys.stderr)
    print(f"wrote {written} frames to {Path(args.output).resolve()}")
    return 0
