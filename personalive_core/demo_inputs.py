"""Synthetic demo inputs (a drawn cartoon face and a short driving video with a tone), so the
main command can be tried on a fresh machine without any downloads or personal images."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw


def draw_face(size: int, yaw: float = 0.0, mouth: float = 0.3, tilt: float = 0.0) -> Image.Image:
    """A simple face: skin-coloured oval, eyes shifted by `yaw` (-1..1), mouth opening 0..1."""
    img = Image.new("RGB", (size, size), (40, 60, 90))
    d = ImageDraw.Draw(img)
    s = size / 256
    cx, cy = size / 2 + yaw * 20 * s, size / 2 + tilt * 10 * s
    d.ellipse([cx - 70 * s, cy - 90 * s, cx + 70 * s, cy + 95 * s], fill=(224, 180, 150))
    for side in (-1, 1):
        ex = cx + side * 28 * s + yaw * 8 * s
        d.ellipse([ex - 10 * s, cy - 30 * s, ex + 10 * s, cy - 18 * s], fill=(255, 255, 255))
        d.ellipse([ex - 4 * s, cy - 28 * s, ex + 4 * s, cy - 20 * s], fill=(40, 30, 20))
    d.polygon([(cx + yaw * 10 * s, cy - 5 * s), (cx - 8 * s, cy + 20 * s), (cx + 8 * s, cy + 20 * s)], fill=(200, 150, 120))
    h = 4 + 20 * mouth
    d.ellipse([cx - 22 * s, cy + 45 * s - h * s / 2, cx + 22 * s, cy + 45 * s + h * s / 2], fill=(150, 50, 60))
    return img


def write_demo_inputs(folder: str | Path, size: int = 256, frames: int = 24, fps: int = 12) -> tuple[Path, Path]:
    """Write folder/portrait.png and folder/driving.mp4 (head turning and talking, with audio)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    portrait = folder / "portrait.png"
    draw_face(size).save(portrait)
    video = folder / "driving.mp4"
    with av.open(str(video), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=16000)
        for i in range(frames):
            t = i / frames * 2 * math.pi
            face = draw_face(size, yaw=math.sin(t), mouth=0.5 + 0.5 * math.sin(3 * t), tilt=math.cos(t))
            for packet in stream.encode(av.VideoFrame.from_image(face)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        samples = int(16000 * frames / fps)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype(np.float32)[None]
        frame_size = audio.codec_context.frame_size or 1024
        for start in range(0, samples, frame_size):
            chunk = av.AudioFrame.from_ndarray(tone[:, start:start + frame_size], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = 16000, start, Fraction(1, 16000)
            for packet in audio.encode(chunk):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return portrait, video
