"""Every speed mode side by side, in one run on this machine: precision x decoder x compile x low_vram x kernels.

For each mode (one fresh process each, so load peaks and peak memory are its own): load time and load
peak (above the process baseline, relative to the weights kept), the reference step, seconds per 4-frame
window (median of the steady windows 4..N; windows 0-3 carry the lead-in), frames/s, latency from the
first driving frame in to the first output frame out, the warm-up (compiling, in the compile modes), the
weights kept on the compute device while streaming (less with low_vram), peak memory (RSS on CPU; the
allocator's peak on CUDA), a per-stage breakdown of a steady window, and the difference of its frames to the exact run
with the same decoder (PSNR over all frames, max abs error). Ratios and differences are to `fp32+reference`, this pack in
fp32 on the original's kernels (the original's frames bit for bit, and its speed within noise: the shared
PERF_SIDE_BY_SIDE.md), or to fp32 when it is left out; for the TAESD modes the differences are to fp32+taesd. Modes alternate for
`--rounds` rounds and medians are reported (this machine drifts by up to 25 % between minutes).

    python bench/speed.py --quick                         # tiny weights, 64 px: a smoke run (minutes)
    python bench/speed.py --full-size DIR --size 128 256  # full-size random weights (written to DIR once, ~12 GB)
    python bench/speed.py --weights ROOT --size 512 --device cuda
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODES = ("fp32+reference", "fp32", "bf16", "fp16", "fp32+taesd", "bf16+taesd", "fp16+taesd", "fp32+compile",
         "bf16+taesd+compile", "fp16+taesd+compile", "fp16+taesd+low_vram")  # precision, then the switches that are on
# fp16 has no fast CPU kernels (7x slower than fp32 here) and low_vram moves nothing on a CPU-only machine
CPU_MODES = ("fp32+reference", "fp32", "bf16", "fp32+taesd", "bf16+taesd", "fp32+compile", "bf16+taesd+compile")
STAGES = ("motion_extractor", "motion_encoder", "pose_guider", "denoising_unet", "scheduler", "decode")
STEADY_FROM = 4  # windows before this one carry the lead-in
EXACT_FIRST = ("fp32+reference", "fp32", "fp32+taesd")  # run first: the others are compared to them
BASE = "fp32+reference"  # the original's kernels: the original's speed within noise (and its frames, bit for bit)


def mode_settings(mode: str) -> tuple[str, str, bool, bool, str]:
    """'bf16+taesd+compile' -> (precision, decoder, torch.compile, low_vram, kernels)."""
    precision, *switches = mode.split("+")
    return (precision, "taesd" if "taesd" in switches else "vae", "compile" in switches, "low_vram" in switches,
            "reference" if "reference" in switches else "fast")


# -- one mode, in its own process --------------------------------------------------------------------

def _status_bytes(field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak since the last reset) of this process, in bytes."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


def _reset_peak() -> None:
    """Make VmHWM start again from the current resident size (so the imports' own peak is not counted)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class StageClock:
    """Seconds spent in each stage (forward hooks on the networks; wrappers on the scheduler and decoder)."""

    def __init__(self, models, decoder, sync):
        import personalive_core.scheduler as scheduler

        self.sync, self.spent = sync, dict.fromkeys(STAGES, 0.0)
        for name in ("motion_extractor", "motion_encoder", "pose_guider", "denoising_unet"):
            module = getattr(models, name)
            module.register_forward_pre_hook(lambda *_, n=name: self._start(n))
            module.register_forward_hook(lambda *_, n=name: self._stop(n))
        self._wrap(scheduler.StreamingDDIM, "step", "scheduler")
        self._wrap(decoder, "decode", "decode")
        self.started: dict[str, float] = {}

    def _start(self, name):
        self.sync()
        self.started[name] = time.perf_counter()

    def _stop(self, name):
        self.sync()
        self.spent[name] += time.perf_counter() - self.started.pop(name)

    def _wrap(self, owner, attr, name):
        original = getattr(owner, attr)

        def timed(*args, **kwargs):
            self._start(name)
            try:
                return original(*args, **kwargs)
            finally:
                self._stop(name)

        setattr(owner, attr, timed)

    def take(self) -> dict[str, float]:
        spent, self.spent = self.spent, dict.fromkeys(STAGES, 0.0)
        return spent


def measure(mode: str, weights: str, size: int, windows: int, device: str, frames_out: str) -> dict:
    import torch

    from personalive_core.animate import Animation
    from personalive_core.decoding import decoder_for
    from personalive_core.demo_inputs import draw_face
    from personalive_core.loading import load_models
    from personalive_core.video_io import square_frame

    torch.set_num_threads(max(1, torch.get_num_threads()))

    precision, decoder_name, compile, low_vram, kernels = mode_settings(mode)
    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    driving = [square_frame(draw_face(size, yaw=0.6 * math.sin(i / 3), mouth=0.5 + 0.5 * math.sin(i)), size)
               for i in range(4 * windows)]
    portrait = draw_face(size)
    _reset_peak()
    baseline = _status_bytes("VmRSS")
    started = time.perf_counter()
    models = load_models(weights, precision, device, low_vram=low_vram, kernels=kernels)
    decoder = decoder_for(models, decoder_name)  # the tiny autoencoder is read here, not in the first window
    sync()
    load_s = time.perf_counter() - started
    extra = [] if decoder is models.vae else [decoder]  # the tiny autoencoder, kept next to the models
    kept = sum(p.numel() * p.element_size() for m in [*models.modules().values(), *extra] for p in m.parameters())
    load_peak = _status_bytes("VmHWM") - baseline
    _reset_peak()  # from here on, the peak of the reference step and the stream (not of loading)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    clock = StageClock(models, decoder, sync)
    started = time.perf_counter()
    animation = Animation(models, portrait, size=size, seed=1, decoder=decoder_name, compile=compile)
    sync()
    reference_s = time.perf_counter() - started
    resident = models.size_bytes(device) + sum(p.numel() * p.element_size() for m in extra for p in m.parameters())
    clock.take()
    window_s, stages, out, first_out = [], [], [], None
    stream_started = time.perf_counter()
    for w in range(windows):
        started = time.perf_counter()
        for frame in driving[4 * w: 4 * w + 4]:
            for frames in animation.feed(frame.to(device)):
                first_out = first_out or time.perf_counter() - stream_started
                out.append(frames)
        sync()
        window_s.append(time.perf_counter() - started)
        stages.append(clock.take())
    out += list(animation.finish())
    torch.save(torch.cat(out), frames_out)
    steady = window_s[STEADY_FROM:] or window_s[-1:]
    steady_stages = stages[STEADY_FROM:] or stages[-1:]
    return {
        "mode": mode, "load_s": load_s, "load_peak_ratio": load_peak / kept, "kept_gb": kept / 1e9,
        "resident_gb": resident / 1e9,  # weights on the compute device while streaming
        "reference_s": reference_s, "window_s": statistics.median(steady), "latency_s": first_out,
        # what the first windows took above the steady rate: mostly compiling, in the compile modes
        "warmup_s": sum(window_s[:STEADY_FROM]) - len(window_s[:STEADY_FROM]) * statistics.median(steady),
        "peak_gb": (torch.cuda.max_memory_allocated() if cuda else _status_bytes("VmHWM")) / 1e9,
        "stages": {s: statistics.median(st[s] for st in steady_stages) for s in STAGES},
    }


# -- the run ------------------------------------------------------------------------------------------

def run_mode(mode, args, weights, frames_out) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--weights", str(weights), "--size", str(args.size_now),
           "--windows", str(args.windows), "--device", args.device, "--frames-out", frames_out]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def difference(frames: Path, exact: Path) -> tuple[float, float]:
    import torch

    a, b = torch.load(frames, weights_only=True), torch.load(exact, weights_only=True)
    mse = ((a - b) ** 2).mean().item()
    return (math.inf if mse == 0 else 10 * math.log10(1 / mse)), (a - b).abs().max().item()


def table(results: dict[str, dict], size: int, windows: int) -> str:
    base_mode = BASE if BASE in results else "fp32"
    base = results[base_mode]
    lines = [
        f"| mode ({size} px) | s / window | frames/s | vs {base_mode} | latency s | warm-up s | reference s | load s "
        "| load peak / kept | weights on device GB | peak GB | PSNR dB | max abs | UNet / decode / motion enc. / extractor s |",
        "|---" * 14 + "|",
    ]
    for mode, r in results.items():
        st = r["stages"]
        lines.append(
            f"| {mode} | {r['window_s']:.2f} | {4 / r['window_s']:.2f} | {base['window_s'] / r['window_s']:.2f}x "
            f"| {r['latency_s']:.1f} | {r['warmup_s']:.1f} | {r['reference_s']:.2f} | {r['load_s']:.1f} | {r['load_peak_ratio']:.2f}x "
            f"| {r['resident_gb']:.2f} | {r['peak_gb']:.2f} | {r['psnr']:.1f} | {r['max_abs']:.3f} "
            f"| {st['denoising_unet']:.2f} / {st['decode']:.2f} / {st['motion_encoder']:.2f} / "
            f"{st['motion_extractor']:.2f} |")
    lines.append(f"\n{windows} windows per mode, steady = windows {STEADY_FROM}..{windows - 1}; medians over rounds. PSNR "
                 f"and max abs error are against {base_mode} with the same decoder (fp32+taesd for the TAESD modes), over "
                 "all frames; peak GB is the process's peak resident memory (CPU) or allocator peak (CUDA) after loading, "
                 "through the reference step and the stream; warm-up is "
                 f"what windows 0..{STEADY_FROM - 1} took above the steady rate (compiling, in the compile modes).")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny random weights at 64 px, 6 windows, 2 rounds")
    parser.add_argument("--weights", help="an official-layout weights folder (with taesd/ for the TAESD modes)")
    parser.add_argument("--full-size", type=Path, metavar="DIR",
                        help="full-size random weights in DIR (written there first if absent)")
    parser.add_argument("--size", type=int, nargs="+", default=[128])
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--modes", help=f"comma-separated, from {', '.join(MODES)} (default: all on CUDA; on the CPU "
                                        f"{', '.join(CPU_MODES)}, plus fp16 with --quick)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--frames-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if args.child:
        print(json.dumps(measure(args.child, args.weights, args.size[0], args.windows, args.device, args.frames_out)))
        return 0
    if args.modes is None:
        args.modes = ",".join(MODES if args.device.startswith("cuda") else CPU_MODES + (("fp16",) if args.quick else ()))
    wanted = list(dict.fromkeys(["fp32", *args.modes.split(",")]))
    modes = [m for m in EXACT_FIRST if m in wanted] + [m for m in wanted if m not in EXACT_FIRST]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode(s) {unknown}; choose from {list(MODES)}")
    work = Path(tempfile.mkdtemp(prefix="personalive-speed-"))
    if args.quick:
        from personalive_core.tiny_weights import write_tiny_weights

        weights, args.size, args.windows, args.rounds = write_tiny_weights(work / "tiny"), [64], 6, max(args.rounds, 2)
    elif args.full_size:
        sys.path.insert(0, str(REPO / "bench"))
        from full_size_weights import write_full_size_weights

        weights = write_full_size_weights(args.full_size, REPO.parent / "shared" / "personalive_weights_manifest.json")
    elif args.weights:
        weights = Path(args.weights)
    else:
        parser.error("give --quick, --full-size DIR or --weights ROOT")
    report = {}
    for size in args.size:
        args.size_now = size
        rounds = {m: [] for m in modes}
        for r in range(args.rounds):
            for mode in modes:
                frames = work / f"{mode}-{size}-{r}.pt"
                result = run_mode(mode, args, weights, str(frames))
                # TAESD is another network than the VAE (with random weights, an unrelated one): compared only
                # to fp32+taesd, and not at all when that mode is left out
                exact = ("fp32+taesd" if mode_settings(mode)[1] == "taesd" else BASE if BASE in modes else "fp32")
                result["psnr"], result["max_abs"] = (difference(frames, work / f"{exact}-{size}-{r}.pt")
                                                     if exact in modes else (math.nan, math.nan))
                rounds[mode].append(result)
                print(f"{size} px round {r + 1}: {mode} {result['window_s']:.2f} s/window", file=sys.stderr)
        merged = {m: _median_of(rs) for m, rs in rounds.items()}
        report[size] = merged
        print(table(merged, size, args.windows) + "\n")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


def _median_of(results: list[dict]) -> dict:
    out = dict(results[0])
    for key, value in results[0].items():
        if isinstance(value, (int, float)):
            out[key] = statistics.median(r[key] for r in results)
    out["stages"] = {s: statistics.median(r["stages"][s] for r in results) for s in STAGES}
    return out


if __name__ == "__main__":
    sys.exit(main())
