"""`python -m personalive_core animate`: animate a portrait with a driving video, headless."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("animate", help="animate a portrait with a driving video or image and write a video")
    p.add_argument("--reference", required=True,
                   help="portrait image (stretched to --size as the original; transparency becomes white)")
    p.add_argument("--driving", required=True, help="driving video (any format FFmpeg reads) or a single image")
    p.add_argument("--output", required=True,
                   help="output .mp4, .mov, .mkv (H.264), .webm (VP9), .gif, or a folder (name/ or no suffix) "
                        "for numbered PNG frames; videos keep the driving video's frame times and sound")
    p.add_argument("--weights", help="weights folder in the official layout (see inspect-weights)")
    p.add_argument("--tiny-random-weights", action="store_true",
                   help="demo without downloads: generate tiny RANDOM weights; the output is noise")
    p.add_argument("--seed", type=int, default=42, help="noise seed; the same seed gives the same video")
    p.add_argument("--size", type=int, default=512, help="working resolution (multiple of 64; 512 as trained)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, mps or auto")
    p.add_argument("--include-lead-in", action="store_true",
                   help="also write the 12 frames that move from the reference pose to the first driving pose")
    p.add_argument("--decode-chunk", type=_positive, default=4, help="frames decoded at once by the VAE")
    p.set_defaults(func=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _checked_inputs(args: argparse.Namespace):
    """Every input checked before the models load: (portrait, driving source, output path, device)."""
    from ..checks import check_size
    from ..devices import resolve_device
    from ..errors import InputError
    from ..output_path import check_output_path
    from ..video_io import open_image, probe_driving

    check_size(args.size, "--size")
    if bool(args.weights) == bool(args.tiny_random_weights):
        raise InputError("Give either --weights ROOT (the official weights) or --tiny-random-weights (a noise demo).")
    portrait = open_image(args.reference)
    driving = probe_driving(args.driving)
    output = check_output_path(args.output, inputs=[args.reference, args.driving])
    return portrait, driving, output, resolve_device(args.device)


def _sigterm_as_interrupt():
    """Let SIGTERM stop a run like Ctrl-C does, so the frames written so far are kept; returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    portrait, driving, output, device = _checked_inputs(args)
    from ..animate import animate_frames
    from ..errors import OutputError
    from ..loading import load_models
    from ..video_io import DrivingFrames
    from ..window import LEAD_IN_FRAMES

    weights = args.weights
    if args.tiny_random_weights:
        from ..tiny_weights import cached_tiny_weights

        weights = cached_tiny_weights()
        print("NOTE: tiny RANDOM weights: the output shows the pipeline running, and is noise.", file=sys.stderr)
    started = time.time()
    models = load_models(weights, dtype=args.precision, device=device)
    reader = DrivingFrames(driving, args.size)  # already probed: not opened twice before the run
    frames = animate_frames(models, portrait, reader, size=args.size, seed=args.seed,
                            include_lead_in=args.include_lead_in, decode_chunk=args.decode_chunk)
    lead_in = LEAD_IN_FRAMES if args.include_lead_in else 0

    def shown_at(index: int):
        """Output frame `index` is shown when its driving frame is, after the lead-in (at the driving rate)."""
        return index / driving.fps if index < lead_in else lead_in / driving.fps + reader.times[index - lead_in]

    restore_sigterm = _sigterm_as_interrupt()
    if not driving.is_image and not output.has_sound:
        print(f"NOTE: {output.path.name} has no sound track: the driving video's sound is left out.", file=sys.stderr)
    writer = output.open(driving.fps, audio_from=None if driving.is_image else driving.path,
                         audio_delay=lead_in / driving.fps)
    interrupted, write_error = False, None
    try:
        for chunk in frames:
            try:
                writer.write(chunk, [shown_at(writer.frames + i) for i in range(chunk.shape[0])])
            except OSError as exc:  # a full disk, a lost drive
                write_error = exc
                break
            rate = writer.frames / max(time.time() - started, 1e-9)
            print(f"\r{writer.frames} frames animated ({rate:.2f} frames/s)", end="", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        try:
            writer.close()  # keep what was produced, even after an error, Ctrl-C or SIGTERM
        except OSError as exc:
            write_error = write_error or exc
        restore_sigterm()
        print(file=sys.stderr)
    if write_error is not None:
        kept = ("the folder keeps every one of them" if output.is_frame_folder
                else "the file keeps the frames up to its last keyframe (one per second)")
        raise OutputError(
            f"Writing {output.path} failed ({write_error.strerror or write_error}) after {writer.frames} frames; "
            f"{kept}. Free disk space or choose another folder, then run again."
        )
    if interrupted:
        print(f"interrupted: {writer.frames} frames are in {output.path.resolve()}", file=sys.stderr)
        return 130
    print(f"wrote {writer.frames} frames to {output.path.resolve()}")
    return 0
