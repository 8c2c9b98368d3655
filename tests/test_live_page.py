"""The live page in Debian's Chromium (Playwright, no browser download) against the standalone server
(`python -m personalive_core live --tiny-random-weights`), with a fake camera playing a drawn face:
frames come back and the figures move; a second tab gets a readable "busy" error; stop and start again;
a new reference while running keeps the frames coming; recording offers a .webm; closing the tab frees
the session. One server for the module, CPU only, at 64 px. Screenshots: artifacts/comfy-tests/live_*.png
(PERSONALIVE_TEST_ARTEFACTS overrides)."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from helpers import chromium
from personalive_core.demo_inputs import draw_face

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SIZE = 64
CAMERA_SIZE, CAMERA_FRAMES, CAMERA_FPS = 128, 24, 10
SERVER_START_S = 180
PAGE_PATH = "/personalive/live/"  # where both servers serve the page (the standalone one also at /)
FIRST_FRAMES_S = 240  # tiny weights on the CPU: ~1-4 frames/s, and up to a 16-frame delay before the first
CAMERA_FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


# --------------------------------------------------------------------------------------------------
# inputs: a Y4M file for Chromium's fake camera and two portraits
# --------------------------------------------------------------------------------------------------


def write_y4m(path: Path, frames, fps: int) -> Path:
    """4:2:0 YUV4MPEG2 (full-range JPEG YCbCr, chroma averaged over 2x2 blocks), as Chromium's fake
    capture device reads it."""
    first = frames[0]
    w, h = first.size
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            ycc = np.asarray(frame.convert("YCbCr"), dtype=np.float32)
            out.write(b"FRAME\n")
            out.write(ycc[..., 0].round().astype(np.uint8).tobytes())
            for channel in (1, 2):
                plane = ycc[..., channel].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
                out.write(plane.round().clip(0, 255).astype(np.uint8).tobytes())
    return path


def camera_frames():
    frames = []
    for i in range(CAMERA_FRAMES):
        t = i / CAMERA_FRAMES * 2 * math.pi
        frames.append(draw_face(CAMERA_SIZE, yaw=math.sin(t), mouth=0.5 + 0.5 * math.sin(3 * t), tilt=math.cos(t)))
    return frames


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("live_inputs")
    portrait = folder / "portrait.png"
    draw_face(128).save(portrait)
    other = folder / "other_portrait.png"
    draw_face(128, yaw=0.9).rotate(20).save(other)
    return {"camera": write_y4m(folder / "camera.y4m", camera_frames(), CAMERA_FPS),
            "portrait": portrait, "other": other}


# --------------------------------------------------------------------------------------------------
# the standalone server
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def artefacts() -> Path:
    path = Path(os.environ.get("PERSONALIVE_TEST_ARTEFACTS", REPO / "artifacts" / "comfy-tests"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A server with the live routes: the standalone one, or ComfyUI (see tests/comfy_pack)."""

    def __init__(self, process: subprocess.Popen, url: str, log: Path):
        self.process, self.url, self.log = process, url, log
        self.log_start = len(log.read_text(errors="replace")) if log.exists() else 0

    def log_text(self) -> str:
        """What the server logged since this object was made."""
        return self.log.read_text(errors="replace")[self.log_start:]

    def get_json(self, route: str) -> dict:
        with urllib.request.urlopen(self.url + route, timeout=10) as response:
            return json.loads(response.read())

    def config(self) -> dict:
        return self.get_json("/personalive/live/config")

    def check_alive(self):
        if self.process.poll() is not None:
            pytest.fail(f"the live server exited ({self.process.returncode}):\n{self.log_text()[-4000:]}")

    def wait_device_free(self, why: str, timeout_s: float = 60):
        deadline = time.monotonic() + timeout_s
        while self.config()["busy"]:
            self.check_alive()
            assert time.monotonic() < deadline, why
            time.sleep(0.5)


@pytest.fixture(scope="module")
def server(artefacts):
    port = free_port()
    log = artefacts / "live-server.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "personalive_core", "live", "--tiny-random-weights", "--port", str(port)],
            cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    srv = LiveServer(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            srv.check_alive()
            try:
                srv.config()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"the live server did not answer within {SERVER_START_S} s:\n{srv.log_text()[-4000:]}")
                time.sleep(0.5)
        assert srv.url in srv.log_text(), "the server should print its URL when ready"
        yield srv
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------------------------------
# the browser
# --------------------------------------------------------------------------------------------------


class Tab:
    """One page of the live UI, with its console errors."""

    def __init__(self, context, server: LiveServer, artefacts: Path, init_script: str | None = None):
        self.page = context.new_page()
        if init_script:
            self.page.add_init_script(init_script)
        self.server, self.artefacts, self.errors = server, artefacts, []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.goto(server.url + PAGE_PATH, wait_until="domcontentloaded")
        self.page.wait_for_function("() => window.personaliveLive && window.personaliveLive.config", timeout=30_000)

    def js(self, script: str, arg=None):
        return self.page.evaluate(script, arg)

    @property
    def live(self) -> dict:
        return self.js("() => ({...window.personaliveLive, config: undefined})")

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)

    def shot(self, name: str) -> Path:
        path = self.artefacts / f"live_{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def set_up(self, portrait: Path, folder: str):
        self.page.set_input_files("#reference-file", str(portrait))
        self.page.wait_for_function("() => document.querySelector('#reference-preview').naturalWidth > 0")
        self.page.select_option("#weights", folder)
        self.page.select_option("#size", str(SIZE))

    def start(self, timeout_s: float = 60):
        """Press Start and wait until the session runs."""
        self.page.click("#start")
        self.wait_state("running", "error", timeout_s=timeout_s)
        assert self.live["state"] == "running", self.text("#error")

    def stop(self):
        """Press Stop and wait until the page says stopped, without an error."""
        self.page.click("#stop")
        self.wait_state("stopped", "error", timeout_s=60)
        assert self.live["state"] == "stopped", self.text("#error")

    def wait_state(self, *states: str, timeout_s: float = 60):
        self.wait_for(f"() => {json.dumps(list(states))}.includes(window.personaliveLive.state)", timeout_s,
                      f"state in {states}")

    def wait_frames(self, more_than: int, timeout_s: float = FIRST_FRAMES_S):
        self.wait_for(f"() => window.personaliveLive.framesReceived > {more_than}", timeout_s,
                      f"more than {more_than} frames")

    def wait_for(self, script: str, timeout_s: float, what: str):
        """Poll `script` (so a dead server fails at once, with its log)."""
        deadline = time.monotonic() + timeout_s
        while not self.js(script):
            self.server.check_alive()
            if time.monotonic() > deadline:
                self.shot("timeout")
                pytest.fail(f"timed out after {timeout_s} s waiting for {what}; page: {self.live}, "
                            f"#status: {self.text('#status')!r}, #error: {self.text('#error')!r}\n"
                            f"server log:\n{self.server.log_text()[-3000:]}")
            time.sleep(0.25)

    def assert_no_console_errors(self):
        assert self.errors == [], self.errors


@pytest.fixture(scope="module")
def browser(inputs):
    with chromium(CAMERA_FLAGS + [f"--use-file-for-fake-video-capture={inputs['camera']}"]) as instance:
        yield instance


@pytest.fixture(scope="module")
def context(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    ctx.grant_permissions(["camera"], origin=server.url)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def folder(server) -> str:
    folders = server.config()["folders"]
    assert "tiny" in folders or len(folders) == 1, folders
    return "tiny" if "tiny" in folders else folders[0]


@pytest.fixture(scope="module")
def first(context, server, artefacts) -> Tab:
    return Tab(context, server, artefacts)


# --------------------------------------------------------------------------------------------------
# the tests, in order: one session goes through them
# --------------------------------------------------------------------------------------------------


def test_page_opens_with_the_servers_settings(first, server, folder):
    config = server.config()
    assert first.live["state"] == "idle"
    assert first.js("() => [...document.querySelectorAll('#weights option')].map(o => o.value)") == config["folders"]
    assert folder in config["folders"]
    sizes = first.js("() => [...document.querySelectorAll('#size option')].map(o => o.value)")
    assert {"64", "128", "256", "512"} <= set(sizes)
    assert first.page.input_value("#size") == str(config["defaults"]["size"])
    assert first.page.input_value("#pose-strength") == "1"
    assert first.page.input_value("#expression-strength") == "1"
    assert first.js("() => [...document.querySelectorAll('#motion-mode option')].map(o => o.value)") == config["modes"]
    # The fake camera is listed and previewed.
    first.wait_for("() => document.querySelector('#input-video').videoWidth > 0", 30, "the camera preview")
    assert first.js("() => document.querySelectorAll('#camera option').length") >= 1
    assert first.page.is_hidden("#error"), first.text("#error")
    first.shot("page_opened")
    first.assert_no_console_errors()


def test_frames_come_back_and_the_figures_move(first, inputs, folder):
    first.set_up(inputs["portrait"], folder)
    first.page.fill("#pose-strength", "0.8")  # the motion controls go with the start message
    first.page.select_option("#motion-mode", "relative")
    first.page.fill("#smoothing", "0.3")
    first.start(timeout_s=FIRST_FRAMES_S)
    assert first.live["controls"] == {"pose_strength": 0.8, "expression_strength": 1.0, "motion_mode": "relative",
                                      "smoothing": 0.3}
    first.wait_frames(0)
    first.wait_for("() => Number(document.querySelector('#frames-out').textContent) > 0", 10, "#frames-out > 0")
    first.wait_for("() => /\\d/.test(document.querySelector('#fps').textContent)", 10, "an FPS figure")
    first.wait_for("() => Number(document.querySelector('#frames-in').textContent) > 0", 10, "#frames-in > 0")
    assert re.fullmatch(r"\d+ ms", first.text("#latency")), first.text("#latency")
    live = first.live
    assert live["latencyMs"] > 0
    assert live["framesSent"] > live["framesReceived"] > 0
    # The output canvas shows a picture (noise from random weights, not a flat fill).
    spread = first.js("""() => { const c = document.querySelector('#output');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let lo = 255, hi = 0; for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
        return [c.width, hi - lo]; }""")
    assert spread[0] == SIZE and spread[1] > 10, spread
    assert first.page.is_hidden("#error"), first.text("#error")
    first.shot("running")
    first.assert_no_console_errors()


def test_a_second_tab_is_told_the_server_is_busy(first, context, server, artefacts, inputs, folder):
    assert first.live["state"] == "running"
    second = Tab(context, server, artefacts)
    try:
        second.set_up(inputs["portrait"], folder)
        second.page.click("#start")
        second.wait_state("error", "running", timeout_s=60)
        assert second.live["state"] == "error"
        assert second.page.is_visible("#error")
        assert "another live session is running" in second.text("#error").lower(), second.text("#error")
        assert second.live["lastError"]
        second.shot("busy")
        second.assert_no_console_errors()
    finally:
        second.page.close()
    # The first session went on.
    received = first.live["framesReceived"]
    first.wait_frames(received, timeout_s=60)
    assert first.live["state"] == "running"


def test_a_new_reference_keeps_the_frames_coming(first, inputs, server):
    first.page.set_input_files("#reference-file", str(inputs["other"]))
    received = first.live["framesReceived"]
    # The stream restarts with the new portrait: past the frames already on their way, more come.
    first.wait_frames(received + 8, timeout_s=FIRST_FRAMES_S)
    assert first.live["state"] == "running"
    assert first.page.is_hidden("#error"), first.text("#error")
    assert "Traceback" not in server.log_text()
    first.shot("reference_swapped")
    first.assert_no_console_errors()


def test_recording_offers_a_webm(first):
    first.page.click("#record")
    assert first.page.get_attribute("#record", "aria-pressed") == "true"
    received = first.live["framesReceived"]
    first.wait_frames(received + 2, timeout_s=60)
    first.page.click("#record")
    first.page.wait_for_selector("#download:not([hidden])", timeout=10_000)
    name = first.page.get_attribute("#download", "download")
    assert re.fullmatch(r"personalive-live-[\w-]+\.webm", name), name
    assert first.page.get_attribute("#download", "href").startswith("blob:")
    # The recorded file's size as the page made it (ComfyUI's content security policy keeps a test from
    # fetching the blob: URL; clicking the link downloads it all the same).
    assert first.live["recordedBytes"] > 0
    assert re.search(r"\(\d+ KB\)", first.text("#download")), first.text("#download")
    first.assert_no_console_errors()


def test_stop_then_start_again(first, server):
    first.stop()
    assert first.page.is_hidden("#error"), first.text("#error")
    server.wait_device_free("the stopped session still holds the device")
    first.start()
    first.wait_frames(0)
    first.shot("restarted")
    first.assert_no_console_errors()


def test_closing_the_tab_frees_the_session(first, context, server, artefacts, inputs, folder):
    assert server.config()["busy"], "the first tab's session should be running"
    first.page.close()
    server.wait_device_free("closing the tab did not free the session")
    third = Tab(context, server, artefacts)
    try:
        third.set_up(inputs["portrait"], folder)
        third.start()
        third.shot("after_close")
        third.stop()
        third.assert_no_console_errors()
    finally:
        third.page.close()
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


@pytest.mark.parametrize("name, expected", [("NotAllowedError", "camera access was refused"),
                                            ("NotFoundError", "no camera was found")])
def test_camera_problems_are_explained(context, server, artefacts, name, expected):
    refuse = ("navigator.mediaDevices.getUserMedia = async () => { throw new DOMException('test', %s); };"
              % json.dumps(name))
    tab = Tab(context, server, artefacts, init_script=refuse)
    try:
        tab.page.wait_for_selector("#error:not([hidden])", timeout=10_000)
        assert expected in tab.text("#error").lower(), tab.text("#error")
        tab.shot(f"camera_{name}")
    finally:
        tab.page.close()


def test_a_broken_picture_gets_a_readable_error(context, server, artefacts, folder, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a picture")
    tab = Tab(context, server, artefacts)
    try:
        tab.page.set_input_files("#reference-file", str(broken))
        tab.page.select_option("#weights", folder)
        tab.page.select_option("#size", str(SIZE))
        tab.page.click("#start")
        tab.wait_state("error", "running", timeout_s=60)
        assert tab.live["state"] == "error"
        message = tab.text("#error")
        assert "reference" in message.lower() and "closed unexpectedly" not in message, message
        tab.shot("broken_reference")
    finally:
        tab.page.close()
    assert not server.config()["busy"]
