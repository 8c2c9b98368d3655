"""Against a real ComfyUI 0.30.0 server (started once per session by conftest.comfy_server) with tiny
random weights: registration, the shipped workflows end to end, websocket messages, clear errors
that leave the server working, interrupt between windows, and model unloading through /free."""

from __future__ import annotations

import itertools
import json
import subprocess
import time

import pytest
from PIL import Image

from personalive_core.comfy_client import PromptRejected

from . import fakes, media, server
from . import workflow_check as wc
from .conftest import DRIVING_FRAMES, REPO, TEST_SIZE, api_workflow
from .workflow_check import NODE_IDS

pytestmark = pytest.mark.server

VIDEO, IMAGE = "personalive_animate_from_video", "personalive_animate_from_image"
PASTE_BACK = "personalive_paste_back_from_video"
VIDEO_SAMPLER, IMAGE_SAMPLER = "9", "8"
_seeds = itertools.count(1000)


def run_ok(client, prompt, events=None):
    """Run a prompt that must succeed; prints how long each node took (shown by pytest on failure or -s)."""
    events = [] if events is None else events
    stamps = []

    def on_event(kind, data):
        events.append((kind, data))
        if kind == "executing":
            stamps.append((time.monotonic(), data.get("node")))

    result = client.run(prompt, on_event=on_event, timeout=900)
    stamps.append((time.monotonic(), None))
    timing = ", ".join(
        f"{prompt[node]['class_type']} {t1 - t0:.1f}s"
        for (t0, node), (t1, _) in zip(stamps, stamps[1:])
        if node in prompt
    )
    print(f"prompt {result.prompt_id[:8]} {result.status} in {result.seconds:.1f}s: {timing}")
    assert result.ok, result.error_text()
    return result


def assert_server_still_works(client):
    """A fresh, valid prompt (new seed, so it really runs) succeeds after whatever went wrong before."""
    run_ok(client, api_workflow(IMAGE, **{f"{IMAGE_SAMPLER}__seed": next(_seeds)}))


def test_pack_imports_without_errors(comfy_server):
    assert comfy_server.pack_import_error() is None
    assert f"custom_nodes/{server.PACK_NAME}" in comfy_server.log()
    # The nodes import the core lazily; check that its dependencies are present in ComfyUI's venv.
    out = subprocess.run(
        [str(comfy_server.runtime.python), "-c", "import personalive_core.api"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]


def test_object_info_lists_the_pack_nodes_with_tooltips(client):
    info = client.object_info()
    for node_id in NODE_IDS:
        entry = info[node_id]
        assert entry["category"] == "PersonaLive" and entry["python_module"].endswith(server.PACK_NAME)
        assert len(entry["description"]) > 40
        assert all(entry["output_tooltips"]), node_id
        for kind, section in entry["input"].items():
            if kind == "hidden":  # filled in by ComfyUI (e.g. the node's id), never shown
                continue
            for name, spec in section.items():
                assert spec[1].get("tooltip"), f"{node_id}.{name} has no tooltip"
    folders = info["LoadPersonaLiveModels"]["input"]["required"]["weights_folder"][1]["options"]
    assert "tiny" in folders  # models/personalive/tiny
    assert "tiny_extra" in folders  # reached only through extra_model_paths.yaml


def test_the_offline_tests_see_the_pack_nodes_as_this_comfyui_does(client, pack):
    """The node unit tests and scripts/build_workflows.py read the schemas through a stand-in for ComfyUI's
    V3 API (fake_comfy_api.py): it must describe every node exactly as the real one does."""
    assert fakes.schema_differences(pack, client.object_info()) == []


def test_shipped_workflows_match_the_live_schemas(client):
    info = client.object_info()
    for path in wc.api_files():
        assert wc.schema_problems(api_workflow(path.stem), info, check_file_combos=True) == [], path.name
    for path in wc.ui_files():
        api = wc.strip_meta(wc.load(wc.API_WORKFLOWS / path.name))
        assert wc.without_unset_defaults(wc.ui_to_api(wc.load(path), info), api, info) == api, path.name
    # The offline copy of the core nodes' schemas (used by test_workflows.py) still holds where it matters.
    snapshot = json.loads((REPO / "tests/comfy_pack/data/core_object_info.json").read_text())
    for name, entry in snapshot.items():
        assert wc.core_schema_changes(entry, info[name]) == [], name
    templates = client.get_json("/workflow_templates")
    assert sorted(templates[server.PACK_NAME]) == sorted(p.stem for p in wc.ui_files())
    for path in wc.ui_files():  # the template browser fetches each file and its thumbnail from here
        base = f"/api/workflow_templates/{server.PACK_NAME}/{path.stem}"
        assert client.get_json(base + ".json") == wc.load(path)
        assert client.get_bytes(base + ".jpg")[:3] == b"\xff\xd8\xff"


def test_video_workflow_gives_one_frame_per_driving_frame(client, tmp_path):
    events = []
    result = run_ok(client, api_workflow(VIDEO), events)
    videos = [p for p in client.download_outputs(result, tmp_path) if p.suffix in (".mp4", ".webm", ".mov", ".mkv")]
    assert len(videos) == 1
    assert media.count_video_frames(videos[0]) == DRIVING_FRAMES
    kinds = [k for k, _ in events]
    for kind in ("execution_start", "executing", "progress", "executed", "execution_success"):
        assert kind in kinds
    sampler = [d["value"] for k, d in events if k == "progress" and d["node"] == VIDEO_SAMPLER]
    assert sampler[:4] == [1, 2, 3, 4]  # one progress message per 4-frame window
    assert kinds.count("preview") >= 4  # a live preview per window (the server runs --preview-method latent2rgb)
    assert [d["node"] for k, d in events if k == "executed"] == ["12"]  # SaveVideo


def test_interrupt_stops_the_sampler_between_windows(client):
    """Runs right after the video workflow test: ComfyUI keeps the outputs of the last prompt only, so with
    just the seed changed the nodes before the sampler come from its cache."""
    prompt = api_workflow(VIDEO, **{f"{VIDEO_SAMPLER}__seed": next(_seeds)})  # only sampler onwards re-run
    events, sent = [], []

    def on_event(kind, data):
        events.append((kind, data))
        if kind == "progress" and data.get("node") == VIDEO_SAMPLER and not sent:
            client.interrupt()
            sent.append(time.monotonic())

    ws = client.connect()
    try:
        result = client.follow(ws, client.queue(prompt), on_event, timeout=900)
    finally:
        ws.close()
    assert sent, "the sampler never reported progress"
    assert result.status == "interrupted", result.error_text()
    assert result.error["node_id"] == VIDEO_SAMPLER
    # Only the seed changed: keypoints, pose maps, reference and motion came from ComfyUI's cache.
    assert {"5", "6", "7", "8"} <= set(result.cached)
    windows = [d["value"] for k, d in events if k == "progress" and d["node"] == VIDEO_SAMPLER]
    assert max(windows) < DRIVING_FRAMES // 4  # stopped before the last window
    assert_server_still_works(client)


def test_paste_back_workflow_animates_the_face_inside_the_larger_picture(client, tmp_path):
    """The paste-back template (face crop, motion controls, paste-back) on a real server. Its video output
    is lossy, so the frames are also saved as PNGs: outside the face square they are the picture's
    pixels exactly."""
    import numpy as np

    left, top, side = media.PICTURE_FACE_SQUARE
    prompt = api_workflow(PASTE_BACK, **{"3__left": left, "3__top": top, "3__side": side})
    prompt["20"] = {"class_type": "SaveImage", "inputs": {"images": ["12", 0], "filename_prefix": "paste_back/png"}}
    files = client.download_outputs(run_ok(client, prompt), tmp_path)
    videos = [p for p in files if p.suffix == ".mp4"]
    pngs = sorted(p for p in files if p.suffix == ".png")
    picture = np.asarray(media.picture()[0])
    assert len(videos) == 1 and media.count_video_frames(videos[0]) == DRIVING_FRAMES
    assert len(pngs) == DRIVING_FRAMES
    outside = np.ones(picture.shape[:2], bool)
    outside[top + 1:top + side - 1, left + 1:left + side - 1] = False
    for path in pngs:
        frame = np.asarray(Image.open(path).convert("RGB"))
        assert frame.shape == picture.shape  # the picture's size, not the 64 px working size
        assert np.array_equal(frame[outside], picture[outside])
    inside = np.asarray(Image.open(pngs[0]).convert("RGB"))[top + 8:top + side - 8, left + 8:left + side - 8]
    assert np.abs(inside.astype(int) - picture[top + 8:top + side - 8, left + 8:left + side - 8]).mean() > 5


def test_live_page_and_session_on_comfyuis_server_then_a_prompt_still_runs(client, comfy_server):
    """The live routes on ComfyUI's own server: the page, the weights folders the loader node lists, a
    live session that starts with the models through model management, and a queued prompt after it."""
    import base64
    import io

    import websocket

    config = client.get_json("/personalive/live/config")
    assert "tiny" in config["folders"] and config["busy"] == []
    assert b"personaliveLive" in client.get_bytes("/personalive/live/")
    assert b"registerSidebarTab" in client.get_bytes(f"/extensions/{server.PACK_NAME}/personalive_live.js")
    picture = io.BytesIO()
    media.face(96, 96).save(picture, format="PNG")
    ws = websocket.create_connection(comfy_server.url.replace("http", "ws") + "/personalive/live/ws", timeout=300)
    try:
        ws.send(json.dumps({"type": "start", "weights": "tiny", "size": TEST_SIZE, "pose_strength": 0.5,
                            "reference": base64.b64encode(picture.getvalue()).decode()}))
        while True:
            message = json.loads(ws.recv())
            if message["type"] in ("started", "error"):
                break
        assert message["type"] == "started", message
        assert message["controls"]["pose_strength"] == 0.5
        assert client.get_json("/personalive/live/config")["busy"] == [message["device"]]
        free(client, unload_models=True, free_memory=False)  # Unload Models: the session is told and ends
        while (message := json.loads(ws.recv()))["type"] != "error":
            pass
        assert message["code"] == "unloaded" and "were taken off" in message["message"], message
    finally:
        ws.close()
    for _ in range(100):
        if client.get_json("/personalive/live/config")["busy"] == []:
            break
        time.sleep(0.1)
    assert client.get_json("/personalive/live/config")["busy"] == []
    assert_server_still_works(client)


def test_frame_by_frame_node_keeps_its_stream_between_executions(client, tmp_path):
    """The comfystream-style node: queued again and again with the same inputs it runs every time (never
    cached), one frame out per frame in; the reference comes back while the stream warms up, then animated
    frames, within the stream's delay (so the state survived between executions)."""
    import numpy as np

    from personalive_core.live.service import MAX_DELAY_FRAMES

    base = api_workflow(IMAGE)
    prompt = {key: base[key] for key in ("1", "2", "3")}
    prompt["20"] = {"class_type": "PersonaLiveFrameByFrame", "inputs": {
        "models": ["1", 0], "reference": ["2", 0], "frame": ["3", 0], "session_id": "camera", "size": TEST_SIZE,
        "seed": 3, "pose_strength": 0.7}}
    prompt["21"] = {"class_type": "SaveImage", "inputs": {"images": ["20", 0], "filename_prefix": "frame_by_frame"}}
    frames = []
    for run in range(MAX_DELAY_FRAMES + 1):
        result = run_ok(client, prompt)
        assert "20" not in result.cached
        (path,) = client.download_outputs(result, tmp_path / str(run))
        frames.append(np.asarray(Image.open(path).convert("RGB"), dtype=np.int16))
        assert frames[-1].shape == (TEST_SIZE, TEST_SIZE, 3)
        if np.abs(frames[-1] - frames[0]).mean() > 5:  # no longer the reference: an animated frame
            break
    else:
        pytest.fail(f"still the reference after {len(frames)} executions: the stream did not survive between them")
    assert len(frames) > 2  # the warm-up returned the reference more than once
    assert all(np.array_equal(frame, frames[0]) for frame in frames[:-1])


def test_image_workflow_through_the_queue_command(comfy_server, tmp_path, capsys):
    from personalive_core.cli import queue as cli_queue

    driving = tmp_path / "cli_driving.png"
    media.face(96, 128, -0.5).save(driving)
    rc = cli_queue.main(
        [
            str(wc.API_WORKFLOWS / f"{IMAGE}.json"),
            "--server",
            comfy_server.url,
            "--set",
            "PersonaLive models.weights_folder=tiny",
            "--set",
            f"Keypoints.size={TEST_SIZE}",
            "--set",
            f"Reference features.size={TEST_SIZE}",
            "--set",
            f"Driving image.image=@{driving}",
            "--set",
            f"{IMAGE_SAMPLER}.seed=7",
            "--output-dir",
            str(tmp_path / "out"),
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["status"] == "success" and len(summary["files"]) == 1
    with Image.open(summary["files"][0]) as image:
        assert image.size == (TEST_SIZE, TEST_SIZE)
    assert (comfy_server.input_dir / "cli_driving.png").is_file()  # uploaded
    assert "running #8 Sampler" in captured.err


def test_queue_command_reports_validation_errors(comfy_server, capsys):
    from personalive_core.cli import queue as cli_queue

    rc = cli_queue.main(
        [
            str(wc.API_WORKFLOWS / f"{IMAGE}.json"),
            "--server",
            comfy_server.url,
            "--set",
            "PersonaLive models.weights_folder=missing_weights",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert "node 1 (LoadPersonaLiveModels)" in err and "'missing_weights' not found" in err


def test_wrong_input_type_is_rejected_and_the_server_carries_on(client):
    prompt = api_workflow(IMAGE)
    prompt[IMAGE_SAMPLER]["inputs"]["models"] = ["2", 0]  # an IMAGE into a PERSONALIVE_MODELS socket
    with pytest.raises(PromptRejected) as err:
        client.queue(prompt)
    errors = err.value.body["node_errors"][IMAGE_SAMPLER]["errors"]
    assert errors[0]["type"] == "return_type_mismatch"
    assert "received_type(IMAGE) mismatch input_type(PERSONALIVE_MODELS)" in str(err.value)
    assert_server_still_works(client)


def test_missing_weights_folder_is_rejected_before_any_work(client):
    prompt = api_workflow(IMAGE)
    prompt["1"]["inputs"]["weights_folder"] = "no_such_weights"
    with pytest.raises(PromptRejected) as err:
        client.queue(prompt)
    error = err.value.body["node_errors"]["1"]["errors"][0]
    assert error["type"] == "custom_validation_failed"
    assert "'no_such_weights' not found" in error["details"] and "auto_download" in error["details"]
    assert_server_still_works(client)


def test_bad_size_is_rejected_before_any_work(client):
    prompt = api_workflow(IMAGE)
    prompt["6"]["inputs"]["size"] = 100
    with pytest.raises(PromptRejected, match="multiple of 64.*use 64 or 128"):
        client.queue(prompt)


def test_mismatched_frame_counts_fail_clearly_and_the_server_carries_on(client):
    prompt = api_workflow(VIDEO)
    prompt["20"] = {"class_type": "ImageFromBatch", "inputs": {"image": ["4", 0], "batch_index": 0, "length": 5}}
    prompt["8"]["inputs"]["driving"] = ["20", 0]  # MotionEncode gets 5 frames, the keypoints have 16
    result = client.run(prompt, timeout=900)
    assert result.status == "error"
    assert result.error["node_type"] == "MotionEncode"
    assert result.error["exception_type"] == "personalive_core.errors.InputError"
    assert (
        f"the driving batch has 5 frame(s) but the keypoints has {DRIVING_FRAMES}" in result.error["exception_message"]
    )
    assert_server_still_works(client)


def free(client, **flags):
    """POST /free so that it takes effect before the next prompt. ComfyUI 0.3.75's prompt worker applies
    the flags when it wakes up; a /free that lands while it is still wrapping up the previous prompt
    loses its wake-up call and waits for the next prompt, which then runs first. The second call
    reaches an idle worker."""
    for _ in range(2):
        client.free(**flags)
        time.sleep(1.0)


def test_unload_models_and_free_release_the_models(client, comfy_server):
    def counts():
        log = comfy_server.log()
        return log.count("Requested to load PersonaLiveModule"), log.count("loaded PersonaLive weights from")

    def run_new_seed():
        run_ok(client, api_workflow(IMAGE, **{f"{IMAGE_SAMPLER}__seed": next(_seeds)}))

    run_new_seed()
    loads, weights = counts()
    run_new_seed()
    assert counts() == (loads, weights)  # still loaded, loader output cached: nothing reloaded

    free(client, unload_models=True, free_memory=False)  # the UI's "Unload Models" button
    run_new_seed()
    assert counts() == (loads + 1, weights)  # moved back onto the compute device for the run

    free(client, unload_models=True, free_memory=True)  # also drops cached node outputs
    run_new_seed()
    assert counts() == (loads + 2, weights + 1)  # the weights were released and had to be read again


@pytest.mark.parametrize("precision, low_vram, kernels, use_tiny, compile", [("bf16", True, "fast", True, True),
                                                                            ("fp16", False, "reference", False, False)])
def test_speed_modes_through_the_nodes(client, tmp_path, precision, low_vram, kernels, use_tiny, compile):
    """Precision, low_vram and kernels (loader), compile (sampler; graph capture only on this test server, see
    server.py) and the tiny decoder (decode node) on the real server: one frame per driving frame."""
    prompt = api_workflow(IMAGE, **{"1__precision": precision, "1__low_vram": low_vram, "1__kernels": kernels,
                                    "9__use_tiny": use_tiny,
                                    f"{IMAGE_SAMPLER}__compile": compile, f"{IMAGE_SAMPLER}__seed": next(_seeds)})
    result = run_ok(client, prompt)
    images = [p for p in client.download_outputs(result, tmp_path) if p.suffix == ".png"]
    assert len(images) == 1
    with Image.open(images[0]) as image:
        assert image.size == (TEST_SIZE, TEST_SIZE)
