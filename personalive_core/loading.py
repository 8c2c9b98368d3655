"""All PersonaLive networks loaded together from one weights folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .weights import LoadReport, locate

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

    def modules(self) -> dict[str, nn.Module]:
        names = ("image_encoder", "vae", "reference_unet", "denoising_unet", "pose_guider", "motion_encoder", "motion_extractor")
        return {n: getattr(self, n) for n in names}

    @property
    def device(self) -> torch.device:
        return next(self.pose_guider.parameters()).device

    def to(self, device: torch.device | str) -> "PersonaLiveModels":
        for module in self.modules().values():
            module.to(device)
        return self

    def size_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for m in self.modules().values() for t in m.state_dict().values())


def load_models(root: str | Path, dtype: str | torch.dtype = "auto", device: str | torch.device = "cpu") -> PersonaLiveModels:
    """Load every network from the official layout under `root` (see `weights.official`).

    Raises `WeightsError` naming each missing file and where to download it, or listing the keys of
    a file that does not fit its model.
    """
    from .models.clip_vae import load_image_encoder, load_vae
    from .models.motion_encoder import load_motion_encoder
    from .models.motion_extractor import load_motion_extractor
    from .models.pose_guider import load_pose_guider
    from .models.reference_unet import load_reference_unet
    from .models.unet3d import load_denoising_unet

    root = Path(root).expanduser()
    paths = locate(root)  # fail early, naming every missing file
    dtype = resolve_dtype(dtype, device)
    image_encoder, r1 = load_image_encoder(root, dtype, device)
    vae, r2 = load_vae(root, dtype, device)
    reference_unet, r3 = load_reference_unet(root, dtype, device)
    denoising_unet, r4 = load_denoising_unet(root, dtype, device)
    pose_guider, r5 = load_pose_guider(paths["pose_guider"], dtype, device)
    motion_encoder, r6 = load_motion_encoder(paths["motion_encoder"], dtype, device)
    motion_extractor, r7 = load_motion_extractor(paths["motion_extractor"], dtype, device)
    return PersonaLiveModels(
        image_encoder, vae, reference_unet, denoising_unet, pose_guider, motion_encoder, motion_extractor,
        dtype=dtype, root=root, reports=[r1, r2, r3, r4, r5, r6, r7],
    )
