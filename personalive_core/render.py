"""Rendering one clip to a file: a checked portrait, driving source and output in, a finished file out.

Two ways: progressive (frames reach the output as they are made; Ctrl-C keeps them) and resumable
(frames are kept losslessly next to the output with a checkpoint every few windows; after a crash the
render continues from the last checkpoint, and the output is encoded at the end, under a temporary
name then renamed, so it is byte-identical to an uninterrupted run). `animate` and `batch` use both.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Callable

from PIL import Image

from .animate import Animation
from .errors import OutputError, PersonaLiveError
from .frame_folder import FrameFolderWriter, read_frame_folder
from .loading import PersonaLiveModels
from .motion_controls import MotionControls
from .output_path import OutputTarget
from .paste_back import FaceCrop, PasteBack
from .resume_store import ResumeStore, file_digest
from .video_io import DrivingFrames, DrivingSource
from .window import CHUNK_FRAMES, LEAD_IN_FRAMES

CHECKPOINT_EVERY = 10  # windows of CHUNK_FRAMES driving frames between two checkpoints


@dataclass(frozen=True)
class RenderOptions:
    """What decides the frames of a render (with the models and the inputs)."""

    size: int = 512
    seed: int = 42
    include_lead_in: bool = False
    decode_chunk: int = 4
    controls: MotionControls = MotionControls()
    paste_back: FaceCrop | None = None  # animate this square of the portrait and paste it back into it
    decoder: str = "vae"  # or "taesd": the tiny autoencoder (faster, lower quality)
    compile: bool = False  # torch.compile the per-window networks (same frames within rounding; warm-up cost)


@dataclass
class RenderResult:
    frames: int
    seconds: float
    resumed_at: int = 0  # frames already rendered by an earlier, interrupted run


class RenderInterrupted(PersonaLiveError):
    """Ctrl-C or SIGTERM stopped a render; the message says what is kept and how to continue."""

    def __init__(self, message: str, frames: int):
        super().__init__(message)
        self.frames = frames


class Render:
    """One clip: `run()` renders it, calling `progress(frames_done)` after every written chunk."""

    def __init__(self, models: PersonaLiveModels, portrait: Image.Image, driving: DrivingSource,
                 output: OutputTarget, options: RenderOptions, progress: Callable[[int], None] | None = None):
        self.models, self.portrait, self.driving, self.output = models, portrait, driving, output
        self.options, self.progress = options, progress or (lambda frames: None)
        self.reader = DrivingFrames(driving, options.size)
        self.lead_in = LEAD_IN_FRAMES if options.include_lead_in else 0
        self.paste = PasteBack(portrait, options.paste_back) if options.paste_back else None

    def shown_at(self, index: int) -> Fraction:
        """Output frame `index` is shown when its driving frame is, after the lead-in (at the driving rate)."""
        if index < self.lead_in:
            return index / self.driving.fps
        return self.lead_in / self.driving.fps + self.reader.times[index - self.lead_in]

    def _open(self, output: OutputTarget):
        audio = None if self.driving.is_image else self.driving.path
        return output.open(self.driving.fps, audio_from=audio, audio_delay=self.lead_in / self.driving.fps)

    def _animation(self) -> Animation:
        o = self.options
        face = o.paste_back.image(self.portrait) if o.paste_back else self.portrait
        return Animation(self.models, face, o.size, o.seed, o.include_lead_in, o.decode_chunk, controls=o.controls,
                         decoder=o.decoder, compile=o.compile)

    def _made(self, frames):
        """Animated frames as they are written: pasted back into the portrait with `paste_back`."""
        return frames if self.paste is None else self.paste(frames)

    def _write(self, writer, frames, report: bool = True) -> None:
        try:
            writer.write(frames, [self.shown_at(writer.frames + i) for i in range(frames.shape[0])])
        except OSError as exc:  # a full disk, a lost drive
            raise _write_failed(self.output, writer.frames, exc) from None
        if report:
            self.progress(writer.frames)

    def run(self) -> RenderResult:
        """Progressive: every frame goes to the output as soon as it is made."""
        started = time.time()
        animation = self._animation()
        writer = self._open(self.output)
        try:
            for frame in self.reader:
                for frames in animation.feed(frame):
                    self._write(writer, self._made(frames))
            for frames in animation.finish():
                self._write(writer, self._made(frames))
        except KeyboardInterrupt:
            raise RenderInterrupted(f"interrupted: {writer.frames} frames are in {self.output.path.resolve()}",
                                    writer.frames) from None
        finally:
            _close(writer, self.output)
        return RenderResult(writer.frames, time.time() - started)

    def run_resumable(self, fingerprint: dict, checkpoint_every: int = CHECKPOINT_EVERY) -> RenderResult:
        """Resumable: continue from the checkpoint next to the output when there is one with this
        `fingerprint` (`render_fingerprint`); checkpoint every `checkpoint_every` windows; encode the
        output at the end and remove the checkpoint."""
        started = time.time()
        store = ResumeStore(self.output.path, fingerprint)
        saved = store.load()
        if saved is not None and saved["done"]:  # every frame was rendered before: at most the encoding is left
            frames_out = int(saved["animation"]["frames_out"])
            if not self.output.is_frame_folder:
                for _ in self.reader:  # read for the frame times only
                    pass
                self._encode_from(store.frames, frames_out)
            store.remove()
            return RenderResult(frames_out, time.time() - started, frames_out)
        animation = self._animation()
        if saved is not None:
            animation.load_state_dict(saved["animation"])
        frames_dir = self.output.path if self.output.is_frame_folder else store.frames
        resumed_at = animation.frames_out
        writer = FrameFolderWriter(frames_dir, self.driving.fps, start=resumed_at,
                                   compress_level=6 if self.output.is_frame_folder else 1)
        every = CHUNK_FRAMES * max(1, checkpoint_every)
        checkpointed = resumed_at
        try:
            for index, frame in enumerate(self.reader):
                if index < animation.frames_in:
                    continue  # rendered before the checkpoint: read only for its time
                for frames in animation.feed(frame):
                    self._write(writer, self._made(frames))
                if animation.frames_in % every == 0:
                    store.save({"animation": animation.state_dict(), "done": False})
                    checkpointed = animation.frames_out
            for frames in animation.finish():
                self._write(writer, self._made(frames))
            store.save({"animation": animation.state_dict(), "done": True})
        except KeyboardInterrupt:
            raise RenderInterrupted(
                f"interrupted after {writer.frames} frames; run again with --resume to continue from the last "
                f"checkpoint, at frame {checkpointed} (progress is kept in {store.folder})", writer.frames
            ) from None
        if not self.output.is_frame_folder:
            self._encode_from(frames_dir, animation.frames_out)
        store.remove()
        return RenderResult(animation.frames_out, time.time() - started, resumed_at)

    def _encode_from(self, folder, count: int) -> None:
        """Encode the kept frames into the output under a temporary name, then rename it into place."""
        path = self.output.path
        partial = OutputTarget(path.with_name(f".{path.stem}.partial{path.suffix}"), is_frame_folder=False)
        writer = self._open(partial)
        try:
            for frames in read_frame_folder(folder, count):
                self._write(writer, frames, report=False)
        finally:
            _close(writer, self.output)
        os.replace(partial.path, path)


def render_fingerprint(reference: str | os.PathLike, driving: DrivingSource, options: RenderOptions,
                       weights: str | os.PathLike, dtype, device, kernels: str = "fast") -> dict:
    """What a checkpoint must match to be continued: the inputs by content, the options, the weights
    folder, the precision, the device and the kernels (known before the models load, so a mismatch is
    found early)."""
    return {"reference": file_digest(reference), "driving": file_digest(driving.path), "size": options.size,
            "seed": options.seed, "include_lead_in": options.include_lead_in, "decode_chunk": options.decode_chunk,
            "weights": os.path.abspath(weights), "precision": dtype, "device": device,
            **{f"motion {name}": value for name, value in asdict(options.controls).items()},
            "paste_back": options.paste_back, **({"decoder": options.decoder} if options.decoder != "vae" else {}),
            **({"compile": True} if options.compile else {}), **({"kernels": kernels} if kernels != "fast" else {})}


def _close(writer, output: OutputTarget) -> None:
    try:
        writer.close()  # keep what was produced, even after an error, Ctrl-C or SIGTERM
    except OSError as exc:
        raise _write_failed(output, writer.frames, exc) from None


def _write_failed(output: OutputTarget, frames: int, exc: OSError) -> OutputError:
    kept = ("the folder keeps every one of them" if output.is_frame_folder
            else "the file keeps the frames up to its last keyframe (one per second)")
    return OutputError(f"Writing {output.path} failed ({exc.strerror or exc}) after {frames} frames; {kept}. "
                       "Free disk space or choose another folder, then run again.")
