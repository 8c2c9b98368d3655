"""A real ComfyUI server over many runs: a run interrupted and run again gives the same video, and
50 prompts back to back all succeed with the server's memory flat."""

from __future__ import annotations

import time

import av
import numpy as np
import pytest

from .conftest import api_workflow
from .test_server_comfyui import IMAGE, IMAGE_SAMPLER, VIDEO, VIDEO_SAMPLER, run_ok

pytestmark = pytest.mark.server

PROMPTS = 50


def _frames(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _video(client, result, folder) -> np.ndarray:
    videos = [p for p in client.download_outputs(result, folder) if p.suffix in (".mp4", ".webm", ".mov", ".mkv")]
    assert len(videos) == 1
    return _frames(videos[0])


def _interrupted(client, prompt) -> None:
    sent = []

    def on_event(kind, data):
        if kind == "progress" and data.get("node") == VIDEO_SAMPLER and not sent:
            client.interrupt()
            sent.append(True)

    ws = client.connect()
    try:
        result = client.follow(ws, client.queue(prompt), on_event, timeout=900)
    finally:
        ws.close()
    assert result.status == "interrupted", result.error_text()


def test_a_run_interrupted_then_run_again_gives_the_same_video(client, tmp_path):
    prompt = api_workflow(VIDEO, **{f"{VIDEO_SAMPLER}__seed": 777})
    reference = _video(client, run_ok(client, prompt), tmp_path / "first")
    run_ok(client, api_workflow(VIDEO, **{f"{VIDEO_SAMPLER}__seed": 778}))  # so seed 777 is not served from cache
    _interrupted(client, prompt)
    again = _video(client, run_ok(client, prompt), tmp_path / "again")
    assert again.shape == reference.shape and np.array_equal(again, reference)


def _rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status", encoding="ascii"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc")


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/status"), reason="reads memory from Linux's /proc")
def test_fifty_prompts_back_to_back_keep_the_server_memory_flat(client, comfy_server):
    pid = comfy_server.process.pid
    rss, started = [], time.monotonic()
    for i in range(PROMPTS):
        run_ok(client, api_workflow(IMAGE, **{f"{IMAGE_SAMPLER}__seed": 90_000 + i}))
        rss.append(_rss_mib(pid))
    print(f"{PROMPTS} prompts in {time.monotonic() - started:.0f}s; server RSS after the first "
          f"{rss[0]:.0f} MiB, after the 10th {rss[9]:.0f} MiB, after the last {rss[-1]:.0f} MiB")
    assert rss[-1] < rss[9] * 1.10 + 32, rss  # no growth per prompt once the first runs have warmed up
