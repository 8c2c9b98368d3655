"""The live routes (as the standalone `live` command serves them) through a real aiohttp server and
client: config, a session's frames both ways with timestamps echoed, stats, one session per device
("busy"), clear errors for bad starts, a disconnect frees the device, POST /stop."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from personalive_core.demo_inputs import draw_face
from personalive_core.live.protocol import HEADER, PREFIX, pack_frame
from personalive_core.live.service import FolderModels, LiveService

SIZE = 64


def png_data_url(image: Image.Image) -> str:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@pytest.fixture(scope="module")
def service(tiny_random_weights):
    return LiveService(FolderModels({"tiny": tiny_random_weights}, "fp32", "cpu"), default_size=SIZE)


def run_with_client(service, scenario):
    async def main():
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.add_routes(service.routes())
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(main())


async def start(client, **options):
    ws = await client.ws_connect(PREFIX + "/ws")
    await ws.send_str(json.dumps({"type": "start", "size": SIZE, "reference": png_data_url(draw_face(96)), **options}))
    return ws


async def until(ws, kinds, timeout=300):
    """Text messages up to (and including) the first whose type is in `kinds`."""
    seen = []
    while True:
        message = await ws.receive(timeout=timeout)
        if message.type != WSMsgType.TEXT:
            continue
        data = json.loads(message.data)
        seen.append(data)
        if data["type"] in kinds:
            return seen


def camera_frame(i: int) -> bytes:
    import numpy as np

    return pack_frame(1000.0 + i, np.asarray(draw_face(96, yaw=np.sin(i / 2)).resize((128, 96))))


def test_a_session_streams_frames_both_ways_and_a_second_client_is_busy(service):
    async def scenario(client):
        config = await (await client.get(PREFIX + "/config")).json()
        assert config["folders"] == ["tiny"] and config["busy"] == [] and config["defaults"]["size"] == SIZE
        ws = await start(client, pose_strength=0.8, motion_mode="relative", smoothing=0.3, max_queue=64)
        started = (await until(ws, {"started", "error"}))[-1]
        assert started["type"] == "started" and started["size"] == SIZE and started["delay_frames"] == 16
        assert started["controls"] == {"pose_strength": 0.8, "expression_strength": 1.0, "motion_mode": "relative",
                                       "smoothing": 0.3}
        other = await start(client)
        busy = (await until(other, {"started", "error"}))[-1]
        assert busy["code"] == "busy" and "Another live session is running on cpu" in busy["message"]
        assert (await other.receive(timeout=30)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        assert (await (await client.get(PREFIX + "/config")).json())["busy"] == ["cpu"]
        for i in range(20):
            await ws.send_bytes(camera_frame(i))
        frames, stats = [], []
        while len(frames) < 8:
            message = await ws.receive(timeout=300)
            if message.type == WSMsgType.BINARY:
                frames.append(message.data)
            elif message.type == WSMsgType.TEXT:
                stats.append(json.loads(message.data))
        stamps = [HEADER.unpack_from(f)[0] for f in frames]
        assert stamps == sorted(stamps) and set(stamps) <= {1000.0 + i for i in range(20)}
        with Image.open(io.BytesIO(frames[0][HEADER.size:])) as image:
            assert image.size == (SIZE, SIZE) and image.format == "JPEG"
        assert any(s["type"] == "stats" and s["frames_in"] > 0 for s in stats)
        await ws.send_str(json.dumps({"type": "reference", "reference": png_data_url(draw_face(96, yaw=0.9))}))
        await ws.send_str(json.dumps({"type": "reference", "reference": "bm90IGFuIGltYWdl"}))  # not an image
        error = (await until(ws, {"error"}))[-1]
        assert error["code"] == "input" and "Cannot read the new reference portrait" in error["message"]
        await ws.close()  # the client goes away: its session ends and the device is free again
        for _ in range(1200):  # the session's last window finishes first (seconds on a slow CI machine)
            if (await (await client.get(PREFIX + "/config")).json())["busy"] == []:
                break
            await asyncio.sleep(0.1)
        assert service.active == {}
        again = await start(client)
        reply = (await until(again, {"started", "error"}))[-1]
        assert reply["type"] == "started", reply
        stopped = await client.post(PREFIX + "/stop")
        assert (await stopped.json())["stopped"] == 1
        assert (await until(again, {"stopped"}))[-1]["reason"] == "stopped by POST /stop"

    run_with_client(service, scenario)


@pytest.mark.parametrize("start_message, code, text", [
    ({"type": "start", "size": SIZE}, "input", "the reference portrait is missing"),
    ({"type": "start", "size": 100, "reference": "x"}, "input", "multiple of 64"),
    ({"type": "start", "weights": "nope", "size": SIZE, "reference": None}, "input", "reference portrait is missing"),
    ({"type": "go"}, "input", 'the first message must be {"type": "start"'),
    ({"type": "start", "size": SIZE, "pose_strength": 5}, "input", "pose_strength must be between 0 and 2"),
])
def test_bad_starts_get_a_clear_error(service, start_message, code, text):
    async def scenario(client):
        ws = await client.ws_connect(PREFIX + "/ws")
        await ws.send_str(json.dumps(start_message))
        error = (await until(ws, {"error", "started"}, timeout=60))[-1]
        assert error["type"] == "error" and error["code"] == code and text in error["message"]

    run_with_client(service, scenario)


def test_an_unknown_weights_folder_is_named(service):
    async def scenario(client):
        ws = await client.ws_connect(PREFIX + "/ws")
        await ws.send_str(json.dumps({"type": "start", "weights": "nope", "size": SIZE,
                                      "reference": png_data_url(draw_face(96))}))
        error = (await until(ws, {"error", "started"}, timeout=60))[-1]
        assert error["code"] == "weights" and "no weights folder named 'nope'; choose one of tiny" in error["message"]

    run_with_client(service, scenario)


class HostModels(FolderModels):
    """Models as a host server (ComfyUI) hands them out: it may be running other work on the device, and
    may take the models off it."""

    def __init__(self, *args):
        super().__init__(*args)
        self.listeners, self.busy_with = [], None

    def subscribe(self, listener):
        self.listeners.append(listener)

    def sharing(self):
        return self.busy_with

    def unload(self, folder):  # from another thread, as ComfyUI's prompt worker does
        import threading

        thread = threading.Thread(target=lambda: [listener(folder) for listener in self.listeners])
        thread.start()
        thread.join()


def test_the_host_sharing_the_device_is_shown_and_unloading_the_models_ends_the_session(tiny_random_weights):
    models = HostModels({"tiny": tiny_random_weights}, "fp32", "cpu")
    host = LiveService(models, default_size=SIZE)

    async def scenario(client):
        ws = await start(client)
        assert (await until(ws, {"started", "error"}))[-1]["type"] == "started"
        models.busy_with = "a ComfyUI prompt is running on the same device"
        stats = (await until(ws, {"stats"}))[-1]
        assert stats["sharing"] == "a ComfyUI prompt is running on the same device"
        models.unload("tiny")
        error = (await until(ws, {"error"}))[-1]
        assert error["code"] == "unloaded" and "the models of tiny were taken off cpu" in error["message"]
        assert "Start it again" in error["message"]
        assert (await ws.receive(timeout=60)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        for _ in range(600):
            if not host.active:
                break
            await asyncio.sleep(0.1)
        assert host.active == {} and host._clients == {} and host._stopped == {}
        models.busy_with = None
        again = await start(client)  # and a new session starts
        assert (await until(again, {"started", "error"}))[-1]["type"] == "started"
        await again.close()

    run_with_client(host, scenario)
