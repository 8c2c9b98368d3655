"""All PersonaLive networks loaded together from one weights folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .freed_memory import release_freed_memory
from .models.catalog import NETWORKS
from .models.fast_linear import KERNELS, use_kernels
from .models.loader import check_fits, load_network
from .residency import START_ONLY_NETWORKS, AllResident, LowVram
from .weights import LoadReport, locate

# The keypoint detector's output is rounded to whole-pixel face boxes: with fast kernels in its linear layers a
# last-bit change moved one box by a pixel in the golden case (call 15), so it keeps the reference kernels.
REFERENCE_KERNEL_NETWORKS = ("motion_extractor",)
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_dtype(dtype: str | torch.dtype, device: torch.device | str) -> torch.dtype:
    """`auto` is fp16 on CUDA (what the original ships), bf16 on Apple MPS and fp32 on the CPU."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        kind = torch.device(device).type
        return torch.float16 if kind == "cuda" else torch.bfloat16 if kind == "mps" else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"precision must be one of auto, {', '.join(DTYPES)}; got {dtype!r}")
    return DTYPES[dtype]


@dataclass
class PersonaLiveModels:
    """The seven networks, their dtype and device, and what loading reported."""

    image_encoder: nn.Module
    vae: nn.Module
    reference_unet: nn.Module
    denoising_unet: nn.Module
    pose_guider: nn.Module
    motion_encoder: nn.Module
    motion_extractor: nn.Module
    dtype: torch.dtype
    root: Path
    reports: list[LoadReport] = field(default_factory=list)
    residency: AllResident = field(default_factory=AllResident)  # LowVram: start-only networks wait off-device

    def modules(self) -> dict[str, nn.Module]:
        """The networks by name, in catalog order."""
        return {name: getattr(self, name) for name in NETWORKS}

    @property
    def device(self) -> torch.device:
        return next(self.pose_guider.parameters()).device

    def to(self, device: torch.device | str) -> "PersonaLiveModels":
        for module in self.modules().values():
            module.to(device)
        return self

    def size_bytes(self, device: torch.device | str | None = None) -> int:
        """Bytes of parameters and buffers, of all networks or only of those parts on `device` now."""
        kind = None if device is None else torch.device(device).type
        return sum(t.numel() * t.element_size() for m in self.modules().values() for t in m.state_dict().values()
                   if kind is None or t.device.type == kind)


def load_models(root: str | Path, dtype: str | torch.dtype = "auto", device: str | torch.device = "cpu",
                low_vram: bool = False, offload_device: str | torch.device = "cpu",
                kernels: str = "fast") -> PersonaLiveModels:
    """Load every network of `models.catalog` from the official layout under `root` (see `weights.official`).
    With `low_vram`, the networks used only at the start (CLIP, VAE encoder, reference UNet) wait on
    `offload_device` and visit `device` only when needed (see `residency`). `kernels` 'fast' computes the
    linear layers on faster kernels (same weights, same frames within rounding); 'reference' keeps the
    original's PyTorch kernels, bit for bit (see `models.fast_linear`).

    Raises `WeightsError` naming each missing file and where to download it, listing the keys of a
    file that does not fit its model, or naming two files that do not fit together.
    """
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {', '.join(KERNELS)}; got {kernels!r}")
    root = Path(root).expanduser()
    locate(root)  # fail early, naming every missing file
    dtype = resolve_dtype(dtype, device)
    check_fits(root)  # fail early, before the large networks are read
    waiting = set(START_ONLY_NETWORKS) if low_vram else set()  # loaded straight onto the offload device
    loaded = {}
    for name in NETWORKS:
        loaded[name] = load_network(name, root, dtype, offload_device if name in waiting else device)
        use_kernels(loaded[name][0], "reference" if name in REFERENCE_KERNEL_NETWORKS else kernels)
        release_freed_memory()  # this network's read-and-cast buffers, which the C allocator would keep
    models = PersonaLiveModels(**{name: model for name, (model, _) in loaded.items()}, dtype=dtype, root=root,
                               reports=[report for _, report in loaded.values()],
                               residency=LowVram(offload_device) if low_vram else AllResident())
    models.residency.park(models)
    return models
