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
    p.add_argument("--decoder", default="vae", choices=["vae", "taesd"],
                   help="vae: the full VAE (exact); taesd: the tiny autoencoder in WEIGHTS/taesd (madebyollin/taesd), "
                        "faster to decode, a little less detailed")
    p.add_argument("--low-vram", action="store_true",
                   help="keep CLIP, the VAE encoder and the reference UNet off the GPU except when they run "
                        "(same frames; no effect on the CPU)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the networks every window runs (once per run, a minute or more; then "
                        "faster: CUDA graphs on a GPU). Same frames within rounding")
    p.add_argument("--kernels", default="fast", choices=["fast", "reference"],
                   help="fast: linear layers on faster kernels (oneDNN on the CPU; same frames within rounding); "
                        "reference: the original's PyTorch kernels, bit for bit")
    add_motion_arguments(p)
    p.add_argument("--paste-back", action="store_true",
                   help="the reference is a larger picture (half or full body): animate a square around the face "
                        "and paste it back; the output has the picture's size")
    p.add_argument("--crop-box", type=_numbers(3), metavar="LEFT,TOP,SIDE",
                   help="with --paste-back: the square to animate, in pixels (default: found with MediaPipe)")
    p.add_argument("--crop-scale", type=float, default=2.0,
                   help="with --paste-back: the square's side in face sizes (default 2.0)")
    p.add_argument("--crop-offset", type=_numbers(2), default=(0.0, 0.0), metavar="DX,DY",
                   help="with --paste-back: move the square by these fractions of the face size (e.g. 0,0.2: down)")
    p.add_argument("--resume", action="store_true",
                   help="resumable render: keep frames and a checkpoint in OUTPUT.resume/ and continue from it when "
                        "run again after a crash or Ctrl-C; the output appears at the end, identical to a plain run")
    p.add_argument("--checkpoint-every", type=_positive, default=10, metavar="K",
                   help="with --resume: save a checkpoint every K windows of 4 frames (default 10)")
    p.set_defaults(func=run)


def add_motion_arguments(p: argparse.ArgumentParser) -> None:
    """The motion controls (see `motion_controls.MotionControls`); the defaults copy the driver exactly."""
    p.add_argument("--pose-strength", type=float, default=1.0,
                   help="head pose taken from the driver: 0 keeps the reference's, 1 the driver's, up to 2 exaggerates")
    p.add_argument("--expression-strength", type=float, default=1.0,
                   help="expression taken from the driver: 0 the reference's, 1 the driver's, up to 2 exaggerates")
    p.add_argument("--motion-mode", default="absolute", choices=["absolute", "relative"],
                   help="relative: only the driver's change since its first frame moves the portrait")
    p.add_argument("--smoothing", type=float, default=0.0,
                   help="0 (off) to 1: causal smoothing of the driver's head motion against jitter")


def motion_controls(args: argparse.Namespace):
    from ..motion_controls import MotionControls

    return MotionControls(args.pose_strength, args.expression_strength, args.motion_mode, args.smoothing)


def _numbers(count: int):
    def parse(text: str) -> tuple[float, ...]:
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            values = ()
        if len(values) != count:
            raise argparse.ArgumentTypeError(f"expected {count} numbers separated by commas, got {text!r}")
        return values

    return parse


def face_crop(args: argparse.Namespace, portrait, output):
    """The square to animate with --paste-back (None without), checked to fit the picture and the output."""
    from ..paste_back import choose_crop

    if not args.paste_back:
        return None
    return choose_crop(portrait, args.crop_box, args.crop_scale, tuple(args.crop_offset), even=output.needs_even_size)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _checked_inputs(args: argparse.Namespace):
    """Every input checked before the models load: (portrait, driving source, output path, device, the
    square to animate with --paste-back)."""
    from ..checks import check_size
    from ..devices import resolve_device
    from ..errors import InputError
    from ..output_path import check_output_path
    from ..video_io import open_image, probe_driving

    check_size(args.size, "--size")
    motion_controls(args)  # out-of-range controls are refused here, before anything loads
    if bool(args.weights) == bool(args.tiny_random_weights):
        raise InputError("Give either --weights ROOT (the official weights) or --tiny-random-weights (a noise demo).")
    portrait = open_image(args.reference)
    driving = probe_driving(args.driving)
    output = check_output_path(args.output, inputs=[args.reference, args.driving], resuming=args.resume)
    return portrait, driving, output, resolve_device(args.device), face_crop(args, portrait, output)


def _sigterm_as_interrupt():
    """Let SIGTERM stop a run like Ctrl-C does, so the frames written so far are kept; returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    portrait, driving, output, device, crop = _checked_inputs(args)
    from ..decoding import tiny_decoder_problem
    from ..errors import WeightsError
    from ..loading import load_models, resolve_dtype
    from ..render import Render, RenderInterrupted, RenderOptions, render_fingerprint
    from ..resume_store import ResumeStore

    weights = args.weights
    if args.tiny_random_weights:
        from ..tiny_weights import cached_tiny_weights

        weights = cached_tiny_weights()
        print("NOTE: tiny RANDOM weights: the output shows the pipeline running, and is noise.", file=sys.stderr)
    problem = tiny_decoder_problem(weights) if args.decoder == "taesd" else None
    if problem:  # said before minutes of loading
        raise WeightsError(problem)
    options = RenderOptions(size=args.size, seed=args.seed, include_lead_in=args.include_lead_in,
                            decode_chunk=args.decode_chunk, controls=motion_controls(args), paste_back=crop,
                            decoder=args.decoder, compile=args.compile)
    if args.resume:  # a checkpoint of another render is refused before the models load
        fingerprint = render_fingerprint(args.reference, driving, options, weights,
                                         resolve_dtype(args.precision, device), device, args.kernels)
        ResumeStore(output.path, fingerprint).load()
    started = time.time()
    models = load_models(weights, dtype=args.precision, device=device, low_vram=args.low_vram, kernels=args.kernels)
    if not driving.is_image and not output.has_sound:
        print(f"NOTE: {output.path.name} has no sound track: the driving video's sound is left out.", file=sys.stderr)

    def progress(frames: int) -> None:
        rate = frames / max(time.time() - started, 1e-9)
        print(f"\r{frames} frames animated ({rate:.2f} frames/s)", end="", file=sys.stderr, flush=True)

    render = Render(models, portrait, driving, output, options, progress)
    restore_sigterm = _sigterm_as_interrupt()
    try:
        result = render.run_resumable(fingerprint, args.checkpoint_every) if args.resume else render.run()
    except RenderInterrupted as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 130
    finally:
        restore_sigterm()
    resumed = f" ({result.resumed_at} of them by an earlier run)" if result.resumed_at else ""
    print(f"\nwrote {result.frames} frames{resumed} to {output.path.resolve()}")
    return 0
