"""ComfyUI-PersonaLive: ComfyUI entry point of the node pack.

ComfyUI imports this file as a package (named after the folder in custom_nodes/). Outside ComfyUI it
does nothing: pytest, for one, imports it as the parent package of tests/, and `personalive_core` must
stay importable in plain Python without ComfyUI.
"""

import importlib.util
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _inside_comfyui() -> bool:
    """ComfyUI has imported its own `folder_paths` and `comfy` before it loads custom nodes."""
    for name in ("folder_paths", "comfy"):
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            return False
    return True


def _import_core() -> None:
    """Make this pack's `personalive_core` importable under its own name, without putting the pack folder
    (whose `nodes/` would shadow ComfyUI's `nodes` module) on sys.path."""
    core_dir = _HERE / "personalive_core"
    loaded = sys.modules.get("personalive_core")
    if loaded is not None:
        where = Path(getattr(loaded, "__file__", None) or next(iter(getattr(loaded, "__path__", [])), ".")).resolve()
        if core_dir not in (where, where.parent):
            raise ImportError(
                f"another 'personalive_core' is already imported from {where}; ComfyUI-PersonaLive needs its own "
                f"copy in {core_dir}. Uninstall the other one (pip uninstall) or remove the duplicate custom node."
            )
        return
    spec = importlib.util.spec_from_file_location(
        "personalive_core", core_dir / "__init__.py", submodule_search_locations=[str(core_dir)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["personalive_core"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["personalive_core"]
        raise


WEB_DIRECTORY = "./web"  # the frontend extension: the live page's sidebar tab and menu command

if _inside_comfyui():
    _import_core()
    from .nodes import PersonaLiveExtension
    from .nodes.live_routes import register_live_routes

    register_live_routes()

    async def comfy_entrypoint() -> PersonaLiveExtension:
        """ComfyUI's V3 entry point: the extension listing this pack's nodes."""
        return PersonaLiveExtension()

    __all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
else:
    __all__ = ["WEB_DIRECTORY"]
