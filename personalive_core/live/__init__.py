"""Live mode: a camera drives the portrait. `session` is the core (no web), `protocol` the wire format,
`service` the aiohttp routes shared by ComfyUI's server and the standalone `live` command."""

from .session import LiveFrame, LiveOptions, LiveSession
from .stats import LiveStats

__all__ = ["LiveFrame", "LiveOptions", "LiveSession", "LiveStats"]
