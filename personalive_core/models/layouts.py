"""Expected state-dict layout of every official weights file, built on the meta device
(no memory is allocated), for `inspect-weights`."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..weights.official import BY_KEY
from .motion_encoder import MotionEncoder
from .motion_extractor import MotionExtractor
from .pose_guider import PoseGuider


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _unet_config(root: Path) -> dict:
    return json.loads((root / BY_KEY["base_unet_config"].relpath).read_text())


def pose_guider_layout(root: Path) -> dict[str, tuple[int, ...]]:
    width = _unet_config(root)["block_out_channels"][0] if (root / BY_KEY["base_unet_config"].relpath).is_file() else 320
    with torch.device("meta"):
        return _shapes(PoseGuider(out_channels=width))


def _meta_layout(factory):
    def layout(root: Path) -> dict[str, tuple[int, ...]]:
        with torch.device("meta"):
            return _shapes(factory())
    return layout


def _config(key: str):
    def read(root: Path) -> dict:
        return json.loads((root / BY_KEY[key].relpath).read_text())
    return read


def reference_unet_layout(root: Path) -> dict[str, tuple[int, ...]]:
    from .reference_unet import build_reference_unet

    with torch.device("meta"):
        return _shapes(build_reference_unet(_unet_config(root)))


def base_unet_layout(root: Path) -> dict[str, tuple[int, ...]]:
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):
        return _shapes(UNet2DConditionModel.from_config(_unet_config(root)))


def denoising_unet_layout(root: Path) -> dict[str, tuple[int, ...]]:
    from .unet3d import build_denoising_unet

    with torch.device("meta"):
        return _shapes(build_denoising_unet(_unet_config(root)))


def image_encoder_layout(root: Path) -> dict[str, tuple[int, ...]]:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(**_config("image_encoder_config")(root))
    with torch.device("meta"):
        return _shapes(CLIPVisionModelWithProjection(config))


def vae_layout(root: Path) -> dict[str, tuple[int, ...]]:
    from diffusers import AutoencoderKL

    with torch.device("meta"):
        return _shapes(AutoencoderKL.from_config(_config("vae_config")(root)))


def harmless_missing_keys() -> dict[str, list[str]]:
    from .motion_extractor import TOLERATED_MISSING
    from .unet3d.loading import POSITION_TABLES

    # temporal_module.pth and denoising_unet.pth fill one model: the union check reports on the first.
    return {"denoising_unet": [POSITION_TABLES], "motion_extractor": list(TOLERATED_MISSING)}


EXPECTED_LAYOUTS = {
    "base_unet": base_unet_layout,
    "reference_unet": reference_unet_layout,
    "denoising_unet": denoising_unet_layout,
    "temporal_module": denoising_unet_layout,
    "image_encoder": image_encoder_layout,
    "vae": vae_layout,
    "pose_guider": pose_guider_layout,
    "motion_encoder": _meta_layout(MotionEncoder),
    "motion_extractor": _meta_layout(lambda: MotionExtractor(num_kp=21)),
}
