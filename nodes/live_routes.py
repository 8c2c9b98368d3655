"""The live page and its WebSocket on ComfyUI's own server (`/personalive/live/`), with the models loaded
like LoadPersonaLiveModels loads them and moved onto the compute device through ComfyUI's model
management, so /free and queued prompts see them."""

from __future__ import annotations

import logging

from . import model_folder

log = logging.getLogger("PersonaLive")


class ComfyModelSource:
    """Weights folders as the loader node lists them; each loaded once (on the offload device) and
    handed to the live session on the compute device. When model management takes them off the device
    (Unload Models, /free, a prompt needing the memory) the live service hears it and ends the session,
    and the folder is forgotten here, so nothing keeps its weights once the session is gone."""

    def __init__(self, server=None):
        self.bundles = {}
        self.server = server  # ComfyUI's PromptServer: its prompt queue says whether a prompt is running
        self._listeners = []

    def folders(self) -> list[str]:
        return model_folder.weights_folder_names()

    def load(self, folder: str):
        from .loader import LoadPersonaLiveModels

        if folder not in self.bundles:
            bundle = LoadPersonaLiveModels.execute(folder, "auto", False)[0]
            bundle.on_unload(lambda: self._unloaded(folder))
            self.bundles[folder] = bundle
        return self.bundles[folder].on_device()

    def subscribe(self, listener) -> None:
        self._listeners.append(listener)

    def sharing(self) -> str | None:
        running = getattr(getattr(self.server, "prompt_queue", None), "currently_running", None)
        if running:
            return "a ComfyUI prompt is running on the same device: live frames slow down until it ends"
        return None

    def _unloaded(self, folder: str) -> None:
        self.bundles.pop(folder, None)  # the next session loads afresh; nothing here keeps the weights
        for listener in self._listeners:
            listener(folder)


def register_live_routes() -> None:
    """Add the live routes to ComfyUI's PromptServer (a failure is logged; the nodes still load)."""
    try:
        from personalive_core.live.service import LiveService
        from server import PromptServer

        server = PromptServer.instance
        routes = server.routes
        for route in LiveService(ComfyModelSource(server)).routes():
            routes.route(route.method, route.path)(route.handler)
    except Exception as exc:  # noqa: BLE001 - the live page is optional; the nodes must still load
        log.warning("PersonaLive live page unavailable: %s", exc)
