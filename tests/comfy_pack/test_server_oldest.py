"""A smoke test on ComfyUI 0.3.75, the oldest ComfyUI the pack supports (pyproject's requires-comfyui): the
V3 nodes register as the offline tests see them and both shipped workflows run end to end. Everything
else runs on 0.30.0 (test_server_comfyui.py and the browser tests)."""

from __future__ import annotations

import pytest

from helpers import unavailable

from . import fakes, media, server
from . import workflow_check as wc
from .conftest import DRIVING_FRAMES, api_workflow, tiny_server

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def oldest(tmp_path_factory, tiny_weights_root, artefacts_dir):
    try:
        server.find_runtime(version=server.OLDEST)
    except server.RuntimeUnavailable as exc:
        unavailable(str(exc))
    srv = tiny_server(tmp_path_factory.mktemp("comfy_oldest"), tiny_weights_root)
    srv.version = server.OLDEST
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        (artefacts_dir / "comfyui-0.3.75-server.log").write_text(srv.log())


@pytest.fixture(scope="module")
def oldest_client(oldest):
    from personalive_core.comfy_client import ComfyClient

    return ComfyClient(oldest.url, timeout=60)


def test_the_v3_nodes_register_on_comfyui_0_3_75(oldest, oldest_client, pack):
    assert oldest.pack_import_error() is None
    assert oldest_client.get_json("/system_stats")["system"]["comfyui_version"] == server.OLDEST
    info = oldest_client.object_info()
    assert set(wc.NODE_IDS) <= set(info)
    assert fakes.schema_differences(pack, info) == []


@pytest.mark.parametrize("name", ["personalive_animate_from_image", "personalive_animate_from_video"])
def test_the_shipped_workflows_run_on_comfyui_0_3_75(oldest_client, name, tmp_path):
    result = oldest_client.run(api_workflow(name), timeout=900)
    assert result.ok, result.error_text()
    outputs = oldest_client.download_outputs(result, tmp_path)
    videos = [p for p in outputs if p.suffix == ".mp4"]
    if "video" in name:
        assert len(videos) == 1 and media.count_video_frames(videos[0]) == DRIVING_FRAMES
    else:
        assert [p.suffix for p in outputs] == [".png"]
