"""Loading the denoising UNet from the official weights folder, as the original does.

Upstream builds the 3D UNet from the base 2D config, loads the base SD weights (non-strict), then
`denoising_unet.pth` and `temporal_module.pth` (both non-strict, in that order; later files win).
Here the model is built on the meta device and each tensor is assigned once, from the last file
that has it, directly on the target device and in the target dtype: no second copy of the weights
is ever held. Keys that no file provides are reported instead of silently keeping random values.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ...weights import LoadReport, load_into, load_state_dict_file, locate
from .._loading import OnDevice, assert_materialised, cast_empty, check_dtype, read_config
from .config import denoising_unet_config
from .temporal_module import SinusoidalPositions
from .unet import DenoisingUNet3D

# The temporal modules' position tables are deterministic persistent buffers that a file may omit;
# they are then computed as the original's constructor does (spec §3.5.7). Every other key must come
# from one of the three files (all base keys exist in the 3D model with the same shapes).
POSITION_TABLES = "*.pos_encoder.pe"


def build_denoising_unet(base_config: dict, **overrides) -> DenoisingUNet3D:
    """An empty (meta-device) denoising UNet for a base `unet/config.json` dict."""
    with torch.device("meta"):
        return DenoisingUNet3D(**denoising_unet_config(base_config, **overrides))


def load_denoising_unet(
    root: str | Path, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> tuple[DenoisingUNet3D, LoadReport]:
    """Build the denoising UNet from the official weights folder `root`."""
    check_dtype(dtype)
    paths = locate(root, ["base_unet_config", "base_unet", "denoising_unet", "temporal_module"])
    model = cast_empty(build_denoising_unet(read_config(paths["base_unet_config"])), dtype)
    files = [
        ("base unet", load_state_dict_file(paths["base_unet"])),
        ("denoising_unet.pth", load_state_dict_file(paths["denoising_unet"])),
        ("temporal_module.pth", load_state_dict_file(paths["temporal_module"])),
    ]
    report = load_into(model, _last_file_wins(files, device, dtype), model="denoising UNet",
                       tolerate_missing=[POSITION_TABLES])
    for module in model.modules():
        if isinstance(module, SinusoidalPositions) and module.pe.is_meta:
            module.reset_table(device, dtype)
    assert_materialised(model, "denoising UNet")
    return model.eval().requires_grad_(False), report


def _last_file_wins(files, device, dtype):
    """The files as load_into sources, each key kept only in the last file that has it.

    Same result as loading them one after the other (later files override earlier ones), but
    every tensor is converted and copied once, and overridden base tensors are never read.
    """
    later: set[str] = set()
    sources = []
    for label, state in reversed(files):
        kept = {k: v for k, v in state.items() if k not in later}
        later.update(state)
        sources.append((label, OnDevice(kept, device, dtype)))
    return sources[::-1]
