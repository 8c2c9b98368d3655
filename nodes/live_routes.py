"""The live page and its WebSocket on ComfyUI's own server (`/personalive/live/`), with the models loaded
like LoadPersonaLiveModels loads them and moved onto the compute device through ComfyUI's model
management, so /free and queued prompts see them."""

from __future__ import annotations

import logging

from . import model_folder

log = logging.getLogger("PersonaLive")


class ComfyModelSource:
    """Weights folders as the loader node lists them; each loaded once (on the offload device) and
    handed to the live session on the compute device."""

    def __init__(self):
        self.bundles = {}

    def folders(self) -> list[str]:
        return model_folder.weights_folder_names()

    def load(self, folder: str):
        from .loader import LoadPersonaLiveModels

        if folder not in self.bundles:
            self.bundles[folder] = LoadPersonaLiveModels().load(folder, "auto", False)[0]
        return self.bundles[folder].on_device()


def register_live_routes() -> None:
    """Add the live routes to ComfyUI's PromptServer (a failure is logged; the nodes still load)."""
    try:
        from personalive_core.live.service import LiveService
        from server import PromptServer

        routes = PromptServer.instance.routes
        for route in LiveService(ComfyModelSource()).routes():
            routes.route(route.method, route.path)(route.handler)
    except Exception as exc:  # noqa: BLE001 - the live page is optional; the nodes must still load
        log.warning("PersonaLive live page unavailable: %s", exc)
