"""The live mode's HTTP and WebSocket routes (aiohttp), the same under ComfyUI's server and the
standalone `live` command; see `protocol` for the wire format.

A `ModelSource` says which weights folders exist and loads one (the standalone server keeps the models
it loaded; under ComfyUI they go through its model management). One live session runs per compute
device: a second client gets a "busy" error. A client that disconnects ends its session.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Protocol

from aiohttp import WSMsgType, web

from ..checks import SIZE_MAX, SIZE_MIN, check_size
from ..errors import InputError, PersonaLiveError, WeightsError
from ..loading import PersonaLiveModels
from ..motion_controls import MODES, STRENGTH_RANGE, MotionControls
from ..window import CHUNK_FRAMES, LEAD_IN_CHUNKS
from .protocol import PREFIX, decode_picture, pack_frame, unpack_frame
from .session import LiveFrame, LiveOptions, LiveSession

PAGE = Path(__file__).with_name("page") / "index.html"
STATS_EVERY = 0.5  # seconds between two stats messages
# Most frames a camera frame waits inside the stream before its animated frame comes out: the window's
# chunks plus the chunk being filled.
MAX_DELAY_FRAMES = CHUNK_FRAMES * (LEAD_IN_CHUNKS + 1)


class ModelSource(Protocol):
    def folders(self) -> list[str]:
        """Names of the weights folders a client may choose."""

    def load(self, folder: str) -> PersonaLiveModels:
        """The models of `folder`, on their compute device (may take minutes the first time)."""

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call `listener(folder)` (from any thread) whenever the models of `folder` leave the compute
        device, e.g. because a host server unloaded them for other work."""

    def sharing(self) -> str | None:
        """What else is using the compute device right now (e.g. a host server's running job), or None."""


@dataclass(frozen=True)
class StartRequest:
    """The options of a "start" message, checked."""

    weights: str
    size: int = 512
    seed: int = 42
    pose_strength: float = 1.0
    expression_strength: float = 1.0
    motion_mode: str = "absolute"
    smoothing: float = 0.0
    max_queue: int = 8

    @classmethod
    def parse(cls, message: dict, default_folder: str) -> "StartRequest":
        known = {f.name: f for f in fields(cls)}
        values = {"weights": default_folder}
        for name, value in message.items():
            if name in known:
                kind = {"str": str, "int": int, "float": float}[str(known[name].type)]
                try:
                    values[name] = kind(value)
                except (TypeError, ValueError):
                    raise InputError(f"{name} must be a {kind.__name__}; got {value!r}") from None
        request = cls(**values)
        check_size(request.size)
        if not 1 <= request.max_queue <= 64:
            raise InputError(f"max_queue must be between 1 and 64; got {request.max_queue}")
        return request

    def controls(self) -> dict:
        """The motion controls the session runs with (echoed in "started")."""
        return {"pose_strength": self.pose_strength, "expression_strength": self.expression_strength,
                "motion_mode": self.motion_mode, "smoothing": self.smoothing}

    def options(self) -> LiveOptions:
        controls = MotionControls(self.pose_strength, self.expression_strength, self.motion_mode, self.smoothing)
        return LiveOptions(size=self.size, seed=self.seed, controls=controls, max_queue=self.max_queue)


class LiveService:
    """The routes and the one-session-per-device rule. `add_to(table)` registers the routes."""

    def __init__(self, models: ModelSource, default_size: int = 512):
        self.models = models
        self.default_size = default_size
        self.active: dict[str, LiveSession] = {}  # device -> its session
        self._sockets: set[web.WebSocketResponse] = set()
        self._clients: dict[str, tuple[str, web.WebSocketResponse, asyncio.AbstractEventLoop]] = {}  # device ->
        self._stopped: dict[web.WebSocketResponse, str] = {}  # why the server ended a client's session
        models.subscribe(self._models_unloaded)

    def routes(self) -> web.RouteTableDef:
        table = web.RouteTableDef()
        table.get(PREFIX + "/")(self.page)
        table.get(PREFIX + "/config")(self.config)
        table.get(PREFIX + "/ws")(self.socket)
        table.post(PREFIX + "/stop")(self.stop_all)
        return table

    async def page(self, request: web.Request) -> web.Response:
        return web.FileResponse(PAGE, headers={"Cache-Control": "no-cache"})

    async def config(self, request: web.Request) -> web.Response:
        defaults = {"size": self.default_size, "seed": 42, "pose_strength": 1.0, "expression_strength": 1.0,
                    "motion_mode": "absolute", "smoothing": 0.0, "max_queue": 8}
        limits = {"size": [SIZE_MIN, SIZE_MAX], "pose_strength": list(STRENGTH_RANGE),
                  "expression_strength": list(STRENGTH_RANGE), "smoothing": [0.0, 1.0], "max_queue": [1, 64]}
        return web.json_response({"folders": self.models.folders(), "busy": sorted(self.active),
                                  "defaults": defaults, "limits": limits, "modes": list(MODES)})

    async def stop_all(self, request: web.Request) -> web.Response:
        sockets = list(self._sockets)
        for ws in sockets:
            await _send(ws, {"type": "stopped", "reason": "stopped by POST /stop"})
            await ws.close()
        return web.json_response({"stopped": len(sockets)})

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await self._serve(ws)
        finally:
            self._sockets.discard(ws)
            if not ws.closed:
                await ws.close()
        return ws

    # -- one client --------------------------------------------------------------------------------
    async def _serve(self, ws: web.WebSocketResponse) -> None:
        first = await ws.receive()
        if first.type != WSMsgType.TEXT:
            return
        try:
            message = json.loads(first.data)
            if message.get("type") != "start":
                raise InputError('the first message must be {"type": "start", ...}')
            folders = self.models.folders()
            request = StartRequest.parse(message, folders[0] if folders else "")
            options = request.options()
            portrait = decode_picture(message.get("reference"))
        except (InputError, ValueError) as exc:
            await _send(ws, {"type": "error", "code": "input", "message": str(exc)})
            return
        loop = asyncio.get_running_loop()
        await _send(ws, {"type": "status", "message": f"loading the models of {request.weights}"})
        try:
            models = await loop.run_in_executor(None, self.models.load, request.weights)
        except PersonaLiveError as exc:
            await _send(ws, {"type": "error", "code": "weights", "message": str(exc)})
            return
        device = str(models.device)
        if device in self.active:
            await _send(ws, {"type": "error", "code": "busy", "message": (
                f"Another live session is running on {device}. Stop it (or close its tab) and start again.")})
            return
        frames: asyncio.Queue[LiveFrame] = asyncio.Queue()

        def on_frame(frame: LiveFrame) -> None:  # on the session's worker thread
            loop.call_soon_threadsafe(frames.put_nowait, frame)

        self.active[device] = None  # reserved while the reference is encoded
        self._clients[device] = (request.weights, ws, loop)
        session = None
        try:
            await _send(ws, {"type": "status", "message": "encoding the reference"})
            session = await loop.run_in_executor(None, lambda: LiveSession(models, portrait, options, on_frame))
            self.active[device] = session
            await _send(ws, {"type": "started", "size": options.size, "device": device,
                             "delay_frames": MAX_DELAY_FRAMES, "controls": request.controls()})
            sender = asyncio.create_task(self._send_frames(ws, session, frames))
            try:
                await self._receive(ws, session)
            finally:
                sender.cancel()
        except PersonaLiveError as exc:
            await _send(ws, {"type": "error", "code": "input", "message": str(exc)})
        except Exception as exc:  # noqa: BLE001 - the client sees it; the server keeps serving
            await self._report_failure(ws, exc)
        finally:
            self._clients.pop(device, None)
            try:  # the device is free only once the session's worker has stopped using the models
                if session is not None:
                    await loop.run_in_executor(None, session.close)
            finally:
                self.active.pop(device, None)
                self._stopped.pop(ws, None)

    def _models_unloaded(self, folder: str) -> None:
        """The models of `folder` left the device (any thread): end the sessions running on them."""
        for device, (weights, ws, loop) in list(self._clients.items()):
            if weights == folder:
                self._stopped[ws] = (f"the models of {folder} were taken off {device} (Unload Models, /free, or a "
                                     "queued prompt that needed the memory), so the live session stopped. Start it "
                                     "again to reload them.")
                loop.call_soon_threadsafe(lambda ws=ws: asyncio.ensure_future(self._end(ws)))

    async def _end(self, ws: web.WebSocketResponse) -> None:
        await _send(ws, {"type": "error", "code": "unloaded", "message": self._stopped.get(ws, "stopped")})
        await ws.close()

    async def _report_failure(self, ws: web.WebSocketResponse, exc: BaseException) -> None:
        if ws in self._stopped:  # a failure caused by the models leaving the device: say that instead
            await _send(ws, {"type": "error", "code": "unloaded", "message": self._stopped[ws]})
        else:
            await _send(ws, {"type": "error", "code": "failed", "message": f"the live session failed: {exc}"})

    async def _receive(self, ws: web.WebSocketResponse, session: LiveSession) -> None:
        loop = asyncio.get_running_loop()
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                try:
                    timestamp, picture = unpack_frame(message.data)
                except InputError as exc:
                    await _send(ws, {"type": "error", "code": "input", "message": str(exc)})
                    continue
                session.push(picture, timestamp)
            elif message.type == WSMsgType.TEXT:
                command = json.loads(message.data)
                kind = command.get("type")
                try:
                    if kind == "reference":
                        picture = decode_picture(command.get("reference"), "the new reference portrait")
                        await loop.run_in_executor(None, session.replace_reference, picture)
                    elif kind == "reset":
                        session.reset()
                    elif kind == "stop":
                        await _send(ws, {"type": "stopped", "reason": "stopped by the client"})
                        return
                    else:
                        raise InputError(f"unknown message type {kind!r}")
                except InputError as exc:
                    await _send(ws, {"type": "error", "code": "input", "message": str(exc)})
            else:
                return

    async def _send_frames(self, ws: web.WebSocketResponse, session: LiveSession, frames: asyncio.Queue) -> None:
        loop = asyncio.get_running_loop()
        next_stats = time.monotonic()
        while not ws.closed:
            try:
                frame = await asyncio.wait_for(frames.get(), timeout=STATS_EVERY)
                data = await loop.run_in_executor(None, pack_frame, frame.timestamp, frame.image)
                await ws.send_bytes(data)
            except asyncio.TimeoutError:
                pass
            if session.error is not None:
                await self._report_failure(ws, session.error)
                await ws.close()
                return
            if time.monotonic() >= next_stats:
                next_stats = time.monotonic() + STATS_EVERY
                stats = session.stats().as_dict()
                await _send(ws, {"type": "stats", **stats, "notice": session.notice, "sharing": self.models.sharing()})


async def _send(ws: web.WebSocketResponse, message: dict) -> None:
    if not ws.closed:
        try:
            await ws.send_str(json.dumps(message))
        except (ConnectionError, RuntimeError):
            pass


class FolderModels:
    """Models for the standalone server: named weights folders, each loaded once and kept."""

    def __init__(self, roots: dict[str, Path], precision: str = "auto", device: str = "auto",
                 loader: Callable[..., PersonaLiveModels] | None = None):
        from ..loading import load_models

        self.roots, self.precision, self.device = roots, precision, device
        self.loader = loader or load_models
        self.loaded: dict[str, PersonaLiveModels] = {}

    def folders(self) -> list[str]:
        return list(self.roots)

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Nothing to tell: the standalone server keeps its models on the device until it exits."""

    def sharing(self) -> str | None:
        return None

    def load(self, folder: str) -> PersonaLiveModels:
        if folder not in self.roots:
            raise WeightsError(f"no weights folder named {folder!r}; choose one of {', '.join(self.roots)}")
        if folder not in self.loaded:
            self.loaded[folder] = self.loader(self.roots[folder], dtype=self.precision, device=self.device)
        return self.loaded[folder]
