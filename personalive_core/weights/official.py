"""Where the official PersonaLive weights live on disk and where to download them.

The layout is the one `tools/download_weights.py` of the original repository creates under
`pretrained_weights/`:

    ROOT/personalive/{denoising_unet,reference_unet,temporal_module,pose_guider,
                      motion_encoder,motion_extractor}.pth          (huaichang/PersonaLive)
    ROOT/sd-image-variations-diffusers/unet/{config.json, diffusion_pytorch_model.bin}
    ROOT/sd-image-variations-diffusers/image_encoder/{config.json, pytorch_model.bin}
                                                                  (lambdalabs/sd-image-variations-diffusers)
    ROOT/sd-vae-ft-mse/{config.json, diffusion_pytorch_model.bin}  (stabilityai/sd-vae-ft-mse)

Every weights file may also be given as `.safetensors` with the same stem, and the base models' files
under the names Hugging Face libraries save (`model.safetensors`, `diffusion_pytorch_model.safetensors`,
`.fp16` variants, sharded files with their `.index.json`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import WeightsError

HF = "https://huggingface.co"

# What transformers / diffusers save instead of the original's pickles: full precision first, then the
# fp16 variant, then sharded files (their index names the shards).
HF_ALTERNATIVES = {
    "pytorch_model.bin": ["model.safetensors", "model.safetensors.index.json", "model.fp16.safetensors",
                          "pytorch_model.fp16.bin"],
    "diffusion_pytorch_model.bin": ["diffusion_pytorch_model.safetensors.index.json",
                                    "diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.fp16.bin"],
}


@dataclass(frozen=True)
class OfficialFile:
    """One file of the official layout."""

    key: str  # short name used in reports, e.g. "pose_guider"
    relpath: str  # path under the weights root, with the suffix the original download has
    repo_id: str  # Hugging Face repository
    repo_path: str  # path of the file inside that repository

    @property
    def url(self) -> str:
        return f"{HF}/{self.repo_id}/blob/main/{self.repo_path}"

    def candidates(self, root: Path) -> list[Path]:
        """Accepted paths for this file under `root`, preferred first."""
        path = root / self.relpath
        if path.suffix == ".json":
            return [path]
        names = [path.with_suffix(".safetensors").name, path.name]
        names += HF_ALTERNATIVES.get(path.name, [])
        return [path.parent / name for name in names]

    def find(self, root: Path) -> Path | None:
        for path in self.candidates(root):
            if path.is_file():
                return path
        return None


_PL = "huaichang/PersonaLive"
_SDIV = "lambdalabs/sd-image-variations-diffusers"
_VAE = "stabilityai/sd-vae-ft-mse"

OFFICIAL_FILES: tuple[OfficialFile, ...] = (
    OfficialFile("denoising_unet", "personalive/denoising_unet.pth", _PL, "pretrained_weights/personalive/denoising_unet.pth"),
    OfficialFile("reference_unet", "personalive/reference_unet.pth", _PL, "pretrained_weights/personalive/reference_unet.pth"),
    OfficialFile("temporal_module", "personalive/temporal_module.pth", _PL, "pretrained_weights/personalive/temporal_module.pth"),
    OfficialFile("pose_guider", "personalive/pose_guider.pth", _PL, "pretrained_weights/personalive/pose_guider.pth"),
    OfficialFile("motion_encoder", "personalive/motion_encoder.pth", _PL, "pretrained_weights/personalive/motion_encoder.pth"),
    OfficialFile("motion_extractor", "personalive/motion_extractor.pth", _PL, "pretrained_weights/personalive/motion_extractor.pth"),
    OfficialFile("base_unet", "sd-image-variations-diffusers/unet/diffusion_pytorch_model.bin", _SDIV, "unet/diffusion_pytorch_model.bin"),
    OfficialFile("base_unet_config", "sd-image-variations-diffusers/unet/config.json", _SDIV, "unet/config.json"),
    OfficialFile("image_encoder", "sd-image-variations-diffusers/image_encoder/pytorch_model.bin", _SDIV, "image_encoder/pytorch_model.bin"),
    OfficialFile("image_encoder_config", "sd-image-variations-diffusers/image_encoder/config.json", _SDIV, "image_encoder/config.json"),
    OfficialFile("vae", "sd-vae-ft-mse/diffusion_pytorch_model.bin", _VAE, "diffusion_pytorch_model.bin"),
    OfficialFile("vae_config", "sd-vae-ft-mse/config.json", _VAE, "config.json"),
)

BY_KEY = {f.key: f for f in OFFICIAL_FILES}


def locate(root: str | Path, keys: list[str] | None = None) -> dict[str, Path]:
    """Paths of the requested official files under `root`.

    Raises `WeightsError` naming every missing file, its expected path and its download address.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise WeightsError(
            f"Weights folder not found: {root}. Create it and put the official PersonaLive weights in it "
            f"(run `python -m personalive_core inspect-weights {root}` to see the expected layout)."
        )
    wanted = [BY_KEY[k] for k in keys] if keys else list(OFFICIAL_FILES)
    found, missing = {}, []
    for spec in wanted:
        path = spec.find(root)
        if path is None:
            missing.append(spec)
        else:
            found[spec.key] = path
    if missing:
        lines = [f"  - {root / m.relpath}\n      download: {m.url}" for m in missing]
        raise WeightsError(
            f"{len(missing)} PersonaLive weights file(s) missing under {root}:\n" + "\n".join(lines)
            + "\nDownload them to exactly these paths (a .safetensors file with the same name also works, and so do "
            "Hugging Face's own names: model.safetensors, diffusion_pytorch_model.safetensors, .fp16 variants, "
            "sharded files with their .index.json)."
        )
    return found
