"""A live session: camera frames pushed in at any rate, animated frames handed out in order.

One worker thread runs the streaming pipeline (`Animation`). Frames wait in a bounded queue; when the
pipeline falls behind, the oldest waiting frames are dropped (and counted), so the output stays close
to the camera. The stream's delay (a frame comes out a few windows after it went in) is handled
inside: every output frame carries the timestamp of the camera frame it animates. The reference can be
replaced and the stream reset without reloading the models. When nothing is dropped, the frames equal
the offline pipeline's for the same inputs and seed.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from PIL import Image

from ..animate import Animation
from ..checks import check_portrait, check_size
from ..errors import InputError, PersonaLiveError
from ..frames import square_frame
from ..loading import PersonaLiveModels
from ..motion_controls import MotionControls
from .stats import LiveStats, RateMeter


@dataclass(frozen=True)
class LiveOptions:
    """What a live session is opened with (besides the models and the reference)."""

    size: int = 512
    seed: int = 42
    controls: MotionControls = MotionControls()
    max_queue: int = 8  # camera frames waiting; the oldest are dropped beyond this
    max_out: int = 64  # animated frames not yet read by `get`; the oldest are dropped beyond this
    decode_chunk: int = 4


@dataclass
class LiveFrame:
    """One animated frame: RGB uint8 (S,S,3), the camera timestamp it answers, its input index, and
    the seconds it spent in the session (arrival to output)."""

    image: np.ndarray
    timestamp: float
    index: int
    latency: float


@dataclass
class _Input:
    image: Image.Image
    timestamp: float
    index: int
    arrived: float


class LiveSession:
    """`push` camera frames, read `LiveFrame`s from `get` (or an `on_frame` callback, called on the
    worker thread). `replace_reference`, `reset`, `flush` (out with every frame still inside) and
    `close` may be called from any thread."""

    def __init__(self, models: PersonaLiveModels, portrait: Image.Image, options: LiveOptions = LiveOptions(),
                 on_frame: Callable[[LiveFrame], None] | None = None):
        check_size(options.size)
        if options.max_queue < 1:
            raise InputError(f"max_queue must be at least 1; got {options.max_queue}")
        self.models, self.options, self.on_frame = models, options, on_frame
        self._portrait = check_portrait(portrait)
        self._lock = threading.Condition()
        self._waiting: collections.deque[_Input] = collections.deque()
        self._commands: collections.deque[tuple[str, object, int]] = collections.deque()
        self._out: collections.deque[LiveFrame] = collections.deque()
        self._in_stream: collections.deque[_Input] = collections.deque()  # fed, not yet out
        self._frames_in = self._dropped = self._frames_out = 0
        self._rate = RateMeter()
        self._latencies: collections.deque[float] = collections.deque(maxlen=32)
        self._busy = False
        self._closed = False
        self.error: BaseException | None = None  # what stopped the worker (raised by the next call)
        self.notice: str | None = None  # the last problem the session lived through (a bad new reference)
        self._animation = self._open(self._portrait)  # encode the reference now: errors reach the caller
        self._worker = threading.Thread(target=self._run, name="personalive-live", daemon=True)
        self._worker.start()

    # -- called by the client ------------------------------------------------------------------
    def push(self, image: Image.Image | np.ndarray, timestamp: float | None = None) -> None:
        """Queue one camera frame (any size; centre-cropped to a square); never blocks."""
        self._raise_if_failed()
        picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, np.uint8))
        with self._lock:
            if self._closed:
                raise InputError("the live session is closed; start a new one")
            now = time.monotonic()
            self._waiting.append(_Input(picture, now if timestamp is None else timestamp, self._frames_in, now))
            self._frames_in += 1
            while len(self._waiting) > self.options.max_queue:
                self._waiting.popleft()
                self._dropped += 1
            self._lock.notify_all()

    def get(self, timeout: float | None = None) -> LiveFrame | None:
        """The next animated frame, or None after `timeout` seconds without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not self._out:
                self._raise_if_failed()
                left = None if deadline is None else deadline - time.monotonic()
                if (left is not None and left <= 0) or (self._closed and not self._worker.is_alive()):
                    return None
                self._lock.wait(left if left is not None else 0.5)
            return self._out.popleft()

    def replace_reference(self, portrait: Image.Image) -> None:
        """Animate another portrait from the next frame on (the stream restarts; models stay loaded)."""
        self._command("reference", check_portrait(portrait, "the new reference portrait"))

    def reset(self) -> None:
        """Restart the stream with the same portrait (frames still inside are discarded)."""
        self._command("reset", None)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every pushed frame has been processed, then let the frames still inside the stream
        out (the stream then starts afresh with the next push)."""
        self._command("flush", None)
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is waiting or being processed; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._waiting or self._commands or self._busy:
                self._raise_if_failed()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left if left is not None else 0.5)
            return True

    def close(self) -> None:
        """Stop the worker and let go of the stream's state (the models stay with their owner)."""
        with self._lock:
            self._closed = True
            self._waiting.clear()
            self._lock.notify_all()
        if threading.current_thread() is not self._worker:
            self._worker.join(timeout=60)
        self._animation = None

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> LiveStats:
        with self._lock:
            latencies = list(self._latencies)
            return LiveStats(
                frames_in=self._frames_in, frames_out=self._frames_out, dropped=self._dropped,
                queue=len(self._waiting), fps=self._rate.per_second(time.monotonic()),
                latency_ms=1000 * float(np.median(latencies)) if latencies else None,
                delay_frames=len(self._in_stream),
            )

    # -- the worker -----------------------------------------------------------------------------
    def _open(self, portrait: Image.Image) -> Animation:
        o = self.options
        return Animation(self.models, portrait, size=o.size, seed=o.seed, decode_chunk=o.decode_chunk,
                         controls=o.controls)

    def _command(self, kind: str, value) -> None:
        self._raise_if_failed()
        with self._lock:
            if self._closed:
                raise InputError("the live session is closed; start a new one")
            self._commands.append((kind, value, self._frames_in))  # after the frames pushed so far
            self._lock.notify_all()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def _next_job(self):
        with self._lock:
            while not (self._closed or self._commands or self._waiting):
                self._busy = False
                self._lock.notify_all()
                self._lock.wait()
            if self._closed:
                self._busy = False
                self._lock.notify_all()
                return None
            self._busy = True
            if self._commands and (not self._waiting or self._waiting[0].index >= self._commands[0][2]):
                kind, value, _ = self._commands.popleft()  # every frame pushed before it is done
                return kind, value
            return "frame", self._waiting.popleft()

    def _run(self) -> None:
        try:
            while (job := self._next_job()) is not None:
                kind, value = job
                if kind == "frame":
                    self._in_stream.append(value)
                    self._emit(self._animation.feed(square_frame(value.image, self.options.size)))
                elif kind == "flush":
                    if self._animation.frames_in:
                        self._emit(self._animation.finish())
                        self._animation = self._open(self._portrait)
                elif kind == "reference":  # a new stream; frames inside the old one are dropped
                    try:
                        self._animation, self._portrait = self._open(value), value
                        self._in_stream.clear()
                    except PersonaLiveError as exc:  # keep animating the old portrait
                        self.notice = f"the new reference was not used: {exc}"
                else:  # reset
                    self._animation = self._open(self._portrait)
                    self._in_stream.clear()
        except BaseException as exc:  # handed to the client by the next push/get
            self.error = exc
        finally:
            with self._lock:
                self._busy = False
                self._lock.notify_all()

    def _emit(self, batches) -> None:
        for batch in batches:
            for frame in batch:
                source = self._in_stream.popleft()
                now = time.monotonic()
                image = (frame.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
                out = LiveFrame(image, source.timestamp, source.index, now - source.arrived)
                with self._lock:
                    self._frames_out += 1
                    self._rate.tick(now)
                    self._latencies.append(out.latency)
                    if self.on_frame is None:
                        self._out.append(out)
                        while len(self._out) > self.options.max_out:
                            self._out.popleft()
                            self._dropped += 1
                    self._lock.notify_all()
                if self.on_frame is not None:
                    self.on_frame(out)
