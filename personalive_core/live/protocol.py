"""The live mode's wire format, shared by ComfyUI's server, the standalone `live` server and the page.

Routes, under PREFIX (`/personalive/live`):
- `GET  PREFIX/`        the page (the standalone server also serves it at `/`);
- `GET  PREFIX/config`  JSON {"folders": [weights folder names], "busy": [devices with a session],
                         "defaults": {option: value}, "limits": {option: [min, max]}, "modes": [...]};
- `GET  PREFIX/ws`      the WebSocket of one live session;
- `POST PREFIX/stop`    stops every live session (JSON {"stopped": n}).

On the WebSocket, text messages are JSON objects with a "type"; binary messages are frames:
an 8-byte big-endian float64 timestamp (the client's capture time in ms; echoed back unchanged)
followed by a JPEG (or PNG) image.

Client -> server:
- {"type": "start", "weights": folder, "reference": <data URL or base64 of an image file>,
   "size", "seed", "pose_strength", "expression_strength", "motion_mode", "smoothing", "max_queue"}
  (every option but "reference" may be left out: defaults from /config); the first message.
- binary camera frames (any size; centre-cropped to a square);
- {"type": "reference", "reference": ...} replaces the portrait while running;
- {"type": "reset"} restarts the stream; {"type": "stop"} ends the session (so does closing the socket).

Server -> client:
- {"type": "status", "message": "..."} while loading;
- {"type": "started", "size": S, "device": "...", "delay_frames": n, "controls": {the motion controls}};
- binary animated frames (JPEG, S x S), each with the timestamp of the camera frame it animates;
- {"type": "stats", "frames_in", "frames_out", "dropped", "queue", "fps", "latency_ms", "delay_frames",
  "notice", "sharing"} about twice a second ("notice": the last problem the session lived through, such
  as a refused new reference; "sharing": what else uses the device now, such as a running ComfyUI prompt);
- {"type": "error", "code": "busy" | "input" | "weights" | "failed" | "unloaded", "message": "..."};
  after "busy", "weights", "failed" and "unloaded" (the host server took the models off the device) the
  server closes the socket.
- {"type": "stopped", "reason": "..."} before the server closes the socket.
"""

from __future__ import annotations

import base64
import io
import struct

import numpy as np
from PIL import Image

from ..errors import InputError
from ..image_io import image_from_bytes

PREFIX = "/personalive/live"
HEADER = struct.Struct(">d")


def pack_frame(timestamp: float, image: np.ndarray, quality: int = 85) -> bytes:
    """A binary frame message: timestamp header + JPEG of an RGB uint8 (H,W,3) image."""
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=quality)
    return HEADER.pack(timestamp) + out.getvalue()


def unpack_frame(message: bytes) -> tuple[float, Image.Image]:
    """(timestamp, RGB picture) of a binary frame message."""
    if len(message) <= HEADER.size:
        raise InputError(f"a frame message needs an {HEADER.size}-byte timestamp and an image; got {len(message)} bytes")
    (timestamp,) = HEADER.unpack_from(message)
    return timestamp, image_from_bytes(message[HEADER.size:], "the camera frame")


def decode_picture(value: str, what: str = "the reference portrait") -> Image.Image:
    """A picture sent as a data URL (`data:image/png;base64,...`) or plain base64."""
    if not isinstance(value, str) or not value:
        raise InputError(f"{what} is missing; upload a portrait (PNG, JPEG or WebP).")
    payload = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        data = base64.b64decode(payload, validate=False)
    except ValueError as exc:
        raise InputError(f"{what} is not valid base64 ({exc}); upload the picture again.") from None
    return image_from_bytes(data, what)
