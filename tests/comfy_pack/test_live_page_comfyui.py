"""The live page's browser tests (tests/test_live_page.py: fake camera, frames back, figures, busy second
tab, reference swap, recording, stop and start, closing the tab frees the session, readable errors), here
against ComfyUI's own server: the pack's routes on PromptServer, the models through model management.
Then a prompt queued while a session runs: the page says the device is shared, and the prompt finishes;
Unload Models ends the session with that reason on the page."""

from __future__ import annotations

import time

import pytest

from test_live_page import *  # noqa: F403 - the same tests and fixtures, run against another server
from test_live_page import LiveServer, Tab

from .conftest import api_workflow

IMAGE, IMAGE_SAMPLER = "personalive_animate_from_image", "8"


@pytest.fixture(scope="module")
def server(comfy_server):
    """ComfyUI serves the live page at /personalive/live/ (the sidebar tab shows it in an iframe)."""
    srv = LiveServer(comfy_server.process, comfy_server.url, comfy_server.log_path)
    srv.check_alive()
    return srv


def test_a_prompt_queued_while_live_is_shown_on_the_page_and_runs(context, server, artefacts, inputs, folder,
                                                                   client):
    tab = Tab(context, server, artefacts)
    try:
        tab.set_up(inputs["portrait"], folder)
        tab.start(timeout_s=120)
        ws = client.connect()
        try:
            prompt_id = client.queue(api_workflow(IMAGE, **{f"{IMAGE_SAMPLER}__seed": 777}))
            tab.wait_for("() => window.personaliveLive.sharing !== null", 120, "the page to say a prompt is running")
            assert "a comfyui prompt is running" in tab.text("#sharing").lower(), tab.text("#sharing")
            tab.shot("sharing_with_a_prompt")
            result = client.follow(ws, prompt_id, timeout=600)
        finally:
            ws.close()
        assert result.ok, result.error_text()
        tab.wait_for("() => window.personaliveLive.sharing === null", 30, "the notice to go once the prompt ended")
        assert tab.page.is_hidden("#sharing")
        for _ in range(2):  # Unload Models (twice: see test_server_comfyui.free): the page says why it stopped
            client.free(unload_models=True, free_memory=False)
            time.sleep(1.0)
        tab.wait_state("error", timeout_s=60)
        message = tab.text("#error")
        assert message.startswith("The models of tiny were taken off") and "Start it again" in message, message
        tab.shot("models_unloaded")
        tab.assert_no_console_errors()
    finally:
        tab.page.close()
    server.wait_device_free("the ended session still holds the device")
