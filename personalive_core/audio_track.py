"""The driving video's sound, carried into an output video: copied when the container takes its codec,
re-encoded to Opus for WebM (which takes only Opus or Vorbis)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

OPUS_RATE = 48000  # the only rate libopus encodes at here without resampling surprises


class AudioTrack:
    """The first audio stream of `source`, added to `output` (an `av` container being written) as a copy,
    or as Opus when `reencode` is set. `write` puts it after the video, `delay` seconds late."""

    def __init__(self, source: av.container.InputContainer, output: av.container.OutputContainer,
                 reencode: bool = False):
        self.source = source
        self.input = source.streams.audio[0]
        self.output = output
        if reencode:
            self.stream = output.add_stream("libopus", rate=OPUS_RATE)
            self.stream.layout = "stereo"
            self.stream.codec_context.thread_count = 1
            self.resampler = av.AudioResampler(format="flt", layout="stereo", rate=OPUS_RATE)
        else:
            self.stream = output.add_stream_from_template(self.input)
            self.resampler = None

    @classmethod
    def open(cls, source: str | Path | None, output, reencode: bool = False) -> "AudioTrack | None":
        """The track of `source` when it has sound (images and silent videos have none), else None."""
        if source is None:
            return None
        try:
            container = av.open(str(source))
        except (av.FFmpegError, OSError):
            return None
        if not container.streams.audio:
            container.close()
            return None
        return cls(container, output, reencode)

    def write(self, duration: float, delay: float = 0.0) -> None:
        """Mux the sound that falls within `duration` seconds of video, shifted `delay` seconds later."""
        if self.resampler is None:
            self._copy(duration, delay)
        else:
            self._reencode(duration, delay)

    def close(self) -> None:
        self.source.close()

    def _copy(self, duration: float, delay: float) -> None:
        shift = round(delay / self.input.time_base) if delay else 0
        for packet in self.source.demux(self.input):
            if packet.dts is None:
                continue
            if packet.pts is not None and float(packet.pts * self.input.time_base) + delay > duration:
                break
            if shift:
                packet.pts = None if packet.pts is None else packet.pts + shift
                packet.dts += shift
            packet.stream = self.stream
            self.output.mux(packet)

    def _reencode(self, duration: float, delay: float) -> None:
        first = round(delay * OPUS_RATE)
        end = round(duration * OPUS_RATE)
        written = 0
        for decoded in self.source.decode(self.input):
            for frame in self.resampler.resample(decoded):
                if first + written >= end:
                    break
                keep = min(frame.samples, end - first - written)
                frame = _head(frame, keep)
                frame.pts, frame.time_base = first + written, Fraction(1, OPUS_RATE)
                written += keep
                for packet in self.stream.encode(frame):
                    self.output.mux(packet)
        for packet in self.stream.encode():
            self.output.mux(packet)


def _head(frame: av.AudioFrame, samples: int) -> av.AudioFrame:
    """The first `samples` samples of a packed float frame (the whole frame when it is that short)."""
    if samples >= frame.samples:
        return frame
    array = frame.to_ndarray()[:, : samples * len(frame.layout.channels)]
    head = av.AudioFrame.from_ndarray(array, format=frame.format.name, layout=frame.layout.name)
    head.sample_rate = frame.sample_rate
    return head
