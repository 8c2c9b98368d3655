"""`queue --jobs` over two real ComfyUI servers: every prompt runs once, on one server, and a rerun
skips the finished jobs."""

from __future__ import annotations

import json

import pytest

from personalive_core.cli import queue as cli_queue
from personalive_core.comfy_client import ComfyClient

from .conftest import api_workflow, tiny_server
from .test_server_comfyui import IMAGE, IMAGE_SAMPLER

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def second_server(comfy_server, tiny_weights_root, tmp_path_factory):
    """Another ComfyUI with the pack and the same tiny weights and inputs (started after the first)."""
    srv = tiny_server(tmp_path_factory.mktemp("comfy_second"), tiny_weights_root)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_jobs_are_spread_over_two_servers_once_each(comfy_server, second_server, tmp_path, capsys):
    workflow = tmp_path / "image.json"
    workflow.write_text(json.dumps(api_workflow(IMAGE)))
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"set": {f"{IMAGE_SAMPLER}.seed": 5100 + i}}) + "\n" for i in range(4)))
    args = [str(workflow), "--jobs", str(jobs), "--server", comfy_server.url, "--server", second_server.url]
    assert cli_queue.main(args) == cli_queue.EXIT_OK, capsys.readouterr().err
    results = json.loads((tmp_path / "jobs.jsonl.summary.json").read_text())
    assert [r["status"] for r in results] == ["done"] * 4
    assert {r["server"] for r in results} == {comfy_server.url, second_server.url}  # both took jobs
    assert len({r["prompt_id"] for r in results}) == 4
    clients = {url: ComfyClient(url) for url in (comfy_server.url, second_server.url)}
    for r in results:  # each prompt ran on its server and never on the other
        assert clients[r["server"]].history(r["prompt_id"])
        other = next(url for url in clients if url != r["server"])
        assert not clients[other].history(r["prompt_id"])
        assert any(f.endswith((".mp4", ".png", ".webm")) for f in r["files"])

    assert cli_queue.main(args) == cli_queue.EXIT_OK
    again = json.loads((tmp_path / "jobs.jsonl.summary.json").read_text())
    assert [r["status"] for r in again] == ["skipped"] * 4
    assert len(clients[second_server.url].get_json("/history")) == sum(r["server"] == second_server.url
                                                                      for r in results)
