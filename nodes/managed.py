"""Hand the PersonaLive networks to ComfyUI's model manager.

The networks are loaded on ComfyUI's offload device (the CPU on a GPU machine) and wrapped in a
ModelPatcher. Every node that computes calls `PersonaLiveModelBundle.on_device()`, which asks
`comfy.model_management.load_models_gpu` to move them to the compute device (unloading other models
first when memory is short). "Unload Models", POST /free and memory pressure then move them off again,
like any core model; nothing here keeps a private reference on the GPU. Whatever was built on the
device around the networks (a per-frame stream, a live session) listens for that moment through
`on_unload` and lets go of it.
"""

from __future__ import annotations

from pathlib import Path

import comfy.model_management as mm
import comfy.model_patcher
import torch
from comfy.patcher_extension import CallbacksMP


class PersonaLiveModule(torch.nn.Module):
    """All networks as one module, so ModelPatcher can size, move and account for them (ComfyUI's log
    then says 'Requested to load PersonaLiveModule')."""

    def __init__(self, models, device: torch.device):
        super().__init__()
        self.networks = torch.nn.ModuleDict(models.modules())
        self.device = device  # ModelPatcher reads and writes this attribute
        self._dtype = models.dtype

    def get_dtype(self) -> torch.dtype:
        return self._dtype


class PersonaLiveModelBundle:
    """What flows through a PERSONALIVE_MODELS socket. Treat as read-only."""

    def __init__(self, models, root: Path, precision: str):
        self.models = models
        self.root = Path(root)
        self.precision = precision
        offload = mm.unet_offload_device()
        self.patcher = comfy.model_patcher.ModelPatcher(
            PersonaLiveModule(models, offload), load_device=mm.get_torch_device(), offload_device=offload
        )
        # State kept between executions next to the networks (the per-frame node's streams), by key.
        self.states: dict = {}
        self._unload_listeners: list = []
        self.patcher.add_callback(CallbacksMP.ON_DETACH, self._unloaded)

    def on_unload(self, listener) -> None:
        """Call `listener()` whenever model management takes the networks off the compute device (Unload
        Models, POST /free, or another model needing the memory); `states` is emptied then too."""
        self._unload_listeners.append(listener)

    def _unloaded(self, patcher, unpatch_all=True) -> None:
        if not unpatch_all:  # ComfyUI detaches and re-attaches a loaded model on every load request: not an unload
            return
        self.states.clear()
        for listener in list(self._unload_listeners):
            listener()

    def on_device(self):
        """The core models, loaded on the compute device by ComfyUI's model manager."""
        # force_full_load: these are plain torch modules without ComfyUI's low-VRAM casting layers, so
        # a partial load would leave some of them on the offload device.
        mm.load_models_gpu([self.patcher], force_full_load=True)
        return self.models

    def __repr__(self) -> str:
        return f"PersonaLiveModelBundle(root={str(self.root)!r}, precision={self.precision!r})"
