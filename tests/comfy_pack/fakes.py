"""Minimal stand-ins for the ComfyUI modules the nodes import, for unit tests without ComfyUI.

Why fakes instead of ComfyUI's own modules: the node unit tests then run in the project's venv in a
second, with no 1.8 GB ComfyUI runtime, and can observe what the nodes ask of ComfyUI (progress
updates, model loads, interrupt checks). The real modules are exercised by the server tests.

Only what the nodes use is faked: folder_paths (model folders), comfy.model_management (devices,
load_models_gpu, unload_all_models, interrupts), comfy.model_patcher.ModelPatcher (callbacks, detach),
comfy.patcher_extension.CallbacksMP, comfy.utils.ProgressBar,
comfy.latent_formats.SD15, latent_preview.get_previewer, and the V3 node API `comfy_api.v0_0_2`
(fake_comfy_api.py). `loaded_pack` imports the pack against them (the node tests and
scripts/build_workflows.py, which reads the nodes' schemas, both use it); `node_classes` lists its nodes
the way ComfyUI registers them.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import importlib.util
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import torch


class Recorder:
    """Everything the nodes asked of the fake ComfyUI during one test."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.progress: list[tuple[int, int, object]] = []  # (value, total, preview)
        self.loads: list[object] = []  # patchers passed to load_models_gpu
        self.interrupt_checks = 0
        self.interrupt_after_checks: int | None = None  # raise at the n-th check (None: never)
        self.interrupted = False


def _module(name: str, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    mod.__dict__.update(attrs)
    return mod


def build(models_dir: Path, rec: Recorder) -> dict[str, types.ModuleType]:
    """The fake modules, keyed by import name."""
    models_dir = Path(models_dir)

    # folder_paths --------------------------------------------------------------------------------
    names_and_paths: dict[str, tuple[list[str], set]] = {}

    def add_model_folder_path(folder_name, full_folder_path, is_default=False):
        if folder_name in names_and_paths:
            paths = names_and_paths[folder_name][0]
            if full_folder_path not in paths:
                paths.insert(0, full_folder_path) if is_default else paths.append(full_folder_path)
        else:
            names_and_paths[folder_name] = ([full_folder_path], set())

    def get_folder_paths(folder_name):
        return list(names_and_paths[folder_name][0])

    folder_paths = _module(
        "folder_paths",
        models_dir=str(models_dir),
        folder_names_and_paths=names_and_paths,
        add_model_folder_path=add_model_folder_path,
        get_folder_paths=get_folder_paths,
    )

    # comfy.model_management ------------------------------------------------------------------------
    class InterruptProcessingException(Exception):
        pass

    def processing_interrupted():
        return rec.interrupted

    def throw_exception_if_processing_interrupted():
        rec.interrupt_checks += 1
        if rec.interrupt_after_checks is not None and rec.interrupt_checks >= rec.interrupt_after_checks:
            rec.interrupted = True
        if rec.interrupted:  # like ComfyUI: the flag is consumed by the exception
            rec.interrupted, rec.interrupt_after_checks = False, None
            raise InterruptProcessingException()

    def load_models_gpu(
        models, memory_required=0, force_patch_weights=False, minimum_memory_required=None, force_full_load=False
    ):
        for patcher in models:
            rec.loads.append(patcher)
            if patcher in loaded:  # as ComfyUI 0.3.75: a loaded model is detached (weights kept) and re-attached
                patcher.detach(unpatch_all=False)
            else:
                loaded.append(patcher)
            patcher.model.to(patcher.load_device)

    loaded: list = []  # patchers on the device, as model management's current_loaded_models

    def unload_all_models():  # what Unload Models / POST /free do between prompts
        while loaded:
            loaded.pop().detach()

    cpu = torch.device("cpu")
    mm = _module(
        "comfy.model_management",
        InterruptProcessingException=InterruptProcessingException,
        processing_interrupted=processing_interrupted,
        throw_exception_if_processing_interrupted=throw_exception_if_processing_interrupted,
        load_models_gpu=load_models_gpu,
        unload_all_models=unload_all_models,
        get_torch_device=lambda: cpu,
        unet_offload_device=lambda: cpu,
        intermediate_device=lambda: cpu,
        should_use_fp16=lambda device=None, **kw: False,
        should_use_bf16=lambda device=None, **kw: False,
        soft_empty_cache=lambda force=False: None,
    )

    # comfy.model_patcher ---------------------------------------------------------------------------
    class CallbacksMP:
        ON_DETACH = "on_detach_after"

    patcher_extension = _module("comfy.patcher_extension", CallbacksMP=CallbacksMP)

    class ModelPatcher:
        def __init__(self, model, load_device, offload_device, size=0, weight_inplace_update=False):
            self.model, self.load_device, self.offload_device, self.size = model, load_device, offload_device, size
            self.callbacks: dict[str, list] = {}

        def add_callback(self, call_type, callback):
            self.callbacks.setdefault(call_type, []).append(callback)

        def detach(self, unpatch_all=True):  # as ComfyUI: off the device (unless only re-attaching), then callbacks
            if unpatch_all:
                self.model.to(self.offload_device)
            for callback in self.callbacks.get(CallbacksMP.ON_DETACH, []):
                callback(self, unpatch_all)
            return self.model

    model_patcher = _module("comfy.model_patcher", ModelPatcher=ModelPatcher)

    # comfy.utils -----------------------------------------------------------------------------------
    class ProgressBar:
        def __init__(self, total, node_id=None):
            self.total, self.current = total, 0

        def update_absolute(self, value, total=None, preview=None):
            if total is not None:
                self.total = total
            self.current = min(value, self.total)
            rec.progress.append((self.current, self.total, preview))
            throw_exception_if_processing_interrupted()  # ComfyUI's progress hook does the same

        def update(self, value):
            self.update_absolute(self.current + value)

    utils = _module("comfy.utils", ProgressBar=ProgressBar)

    # comfy.latent_formats / latent_preview -------------------------------------------------------------
    class SD15:
        scale_factor = 0.18215
        latent_rgb_factors = [[0.35, 0.23, 0.32], [0.33, 0.50, 0.24], [-0.28, 0.18, 0.27], [-0.21, -0.26, -0.72]]
        latent_rgb_factors_bias = None
        taesd_decoder_name = "taesd_decoder"

    latent_formats = _module("comfy.latent_formats", SD15=SD15)

    class Previewer:
        def decode_latent_to_preview_image(self, preview_format, x0):
            assert x0.ndim == 4 and x0.shape[1] == 4, x0.shape
            return ("JPEG", "preview-of-%dx%d" % tuple(x0.shape[-2:]), 512)

    latent_preview = _module("latent_preview", get_previewer=lambda device, latent_format: Previewer())

    comfy = _module(
        "comfy", model_management=mm, model_patcher=model_patcher, patcher_extension=patcher_extension, utils=utils,
        latent_formats=latent_formats,
    )
    comfy.__path__ = []  # a package, so `import comfy.x` resolves through sys.modules

    # comfy_api.v0_0_2 (the V3 node API) -------------------------------------------------------------
    v3 = _fake_v3_api()
    comfy_api = _module("comfy_api", v0_0_2=v3)
    comfy_api.__path__ = []
    return {
        "comfy_api": comfy_api,
        "comfy_api.v0_0_2": v3,
        "folder_paths": folder_paths,
        "comfy": comfy,
        "comfy.model_management": mm,
        "comfy.model_patcher": model_patcher,
        "comfy.patcher_extension": patcher_extension,
        "comfy.utils": utils,
        "comfy.latent_formats": latent_formats,
        "latent_preview": latent_preview,
    }


def _fake_v3_api() -> types.ModuleType:
    """comfy_api.v0_0_2 from fake_comfy_api.py, loaded by path (scripts load this file without its package)."""
    path = Path(__file__).with_name("fake_comfy_api.py")
    spec = importlib.util.spec_from_file_location("comfy_api.v0_0_2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return _module("comfy_api.v0_0_2", io=module.io, ComfyExtension=module.ComfyExtension)


def node_classes(pack) -> dict:
    """{node ID: node class} of a loaded pack, as ComfyUI registers them from its `comfy_entrypoint`."""
    extension = asyncio.run(pack.comfy_entrypoint())
    return {cls.GET_SCHEMA().node_id: cls for cls in asyncio.run(extension.get_node_list())}


def display_names(pack) -> dict:
    """{node ID: display name} of a loaded pack."""
    return {name: cls.GET_SCHEMA().display_name for name, cls in node_classes(pack).items()}


def object_info(pack) -> dict:
    """What /object_info would show of the pack's nodes, as the offline tests see them (the fields a
    workflow or the frontend reads)."""
    import json

    return json.loads(json.dumps({
        name: {"input": cls.INPUT_TYPES(), "output": cls.RETURN_TYPES, "output_name": cls.RETURN_NAMES,
               "output_tooltips": cls.OUTPUT_TOOLTIPS, "description": cls.DESCRIPTION,
               "display_name": cls.GET_SCHEMA().display_name, "category": cls.CATEGORY}
        for name, cls in node_classes(pack).items()
    }))


def schema_differences(pack, live_info: dict) -> list[str]:
    """The pack's nodes whose live /object_info differs from what the offline tests see (the weights folders
    listed aside: the two servers' model folders differ)."""
    different = []
    for name, offline in object_info(pack).items():
        live = {key: live_info[name][key] for key in offline}
        if name == "LoadPersonaLiveModels":
            for schema in (offline, live):
                schema["input"]["required"]["weights_folder"][1].pop("options")
        if live != offline:
            different.append(f"{name}:\n  live    {live}\n  offline {offline}")
    return different


@contextmanager
def loaded_pack(pack_dir: Path, models_dir: Path, rec: Recorder, name: str = "ComfyUI-PersonaLive"):
    """The pack folder imported the way ComfyUI imports a custom node folder, with the fake ComfyUI modules
    in sys.modules; everything it added to sys.modules is removed again on exit."""
    import personalive_core  # noqa: F401  (the pack's __init__ reuses this copy)

    modules = build(models_dir, rec)
    saved = {key: sys.modules.get(key) for key in modules}
    sys.modules.update(modules)
    spec = importlib.util.spec_from_file_location(
        name, Path(pack_dir) / "__init__.py", submodule_search_locations=[str(pack_dir)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        for key, old in saved.items():
            if old is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = old
