"""Live figures: frames in and out, drops, queue depth, output rate and latency."""

from __future__ import annotations

import collections
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LiveStats:
    """A snapshot of a live session. `latency_ms`: median over the last frames of the time from a camera
    frame's arrival to its animated frame; `delay_frames`: frames inside the stream (not yet out)."""

    frames_in: int
    frames_out: int
    dropped: int
    queue: int
    fps: float
    latency_ms: float | None
    delay_frames: int

    def as_dict(self) -> dict:
        return asdict(self)


class RateMeter:
    """Events per second over the last `window` seconds (frames come out in bursts of a window's worth,
    so the rate is counted over the whole window, not between the first and last event)."""

    def __init__(self, window: float = 10.0):
        self.window = window
        self.times: collections.deque[float] = collections.deque()
        self.started: float | None = None

    def tick(self, now: float) -> None:
        self.started = now if self.started is None else self.started
        self.times.append(now)
        self._forget(now)

    def per_second(self, now: float) -> float:
        self._forget(now)
        if self.started is None or now <= self.started:
            return 0.0
        return len(self.times) / min(self.window, now - self.started)

    def _forget(self, now: float) -> None:
        while self.times and now - self.times[0] > self.window:
            self.times.popleft()
