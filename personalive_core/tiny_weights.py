"""Tiny RANDOM weights in the official layout, so the whole pipeline can run without downloads.

The output of such weights is noise: they exist for demos of the plumbing and for tests. The UNets,
VAE and CLIP are shrunk (widths 32-96); the motion networks have no size configuration and are
written at full size (about 90 M values, stored as float16). The keypoint detector's heads are
damped and biased towards a centred, face-like keypoint layout so that face boxes are never empty.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from .decoding import TINY_DECODER_DIR
from .models.catalog import NETWORKS
from .weights.official import BY_KEY

FORMAT = "tiny-random-v2"  # v2: with a tiny autoencoder in taesd/
UNET_WIDTHS = [32, 64, 96, 96]
CONTEXT_DIM = 32

UNET_CONFIG = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": UNET_WIDTHS,
    "center_input_sample": False,
    "cross_attention_dim": CONTEXT_DIM,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
}
VAE_CONFIG = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": UNET_WIDTHS,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 1,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 256,
    "scaling_factor": 0.18215,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
CLIP_CONFIG = {
    "architectures": ["CLIPVisionModelWithProjection"],
    "hidden_act": "quick_gelu",
    "hidden_size": 32,
    "image_size": 224,
    "intermediate_size": 64,
    "layer_norm_eps": 1e-05,
    "model_type": "clip_vision_model",
    "num_attention_heads": 4,
    "num_channels": 3,
    "num_hidden_layers": 2,
    "patch_size": 14,
    "projection_dim": CONTEXT_DIM,
}
CONFIGS = {"base_unet_config": UNET_CONFIG, "vae_config": VAE_CONFIG, "image_encoder_config": CLIP_CONFIG}
TAESD_CONFIG = {  # the optional tiny autoencoder (taesd/), shrunk; 4 blocks keep its 8x upsampling
    "_class_name": "AutoencoderTiny",
    "encoder_block_out_channels": [8, 8, 8, 8],
    "decoder_block_out_channels": [8, 8, 8, 8],
    "num_encoder_blocks": [1, 1, 1, 1],
    "num_decoder_blocks": [1, 1, 1, 1],
    "latent_channels": 4,
}
STORED_IN_FP16 = ("motion_encoder", "motion_extractor")  # written at full size: halved on disk
# A centred face-like layout (x, y) for the seven keypoints the pose maps draw.
FACE_LAYOUT = {1: (-0.15, -0.12), 2: (0.15, -0.12), 3: (-0.06, 0.0), 4: (0.06, 0.0),
               12: (0.0, 0.08), 15: (-0.1, 0.2), 20: (0.1, 0.2)}


def _save(state: dict[str, torch.Tensor], path: Path, dtype=torch.float32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    save_file(tensors, str(path.with_suffix(".safetensors")), metadata={"format": "pt", "note": FORMAT})


def _write_json(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def _condition_detector(state: dict[str, torch.Tensor]) -> None:
    """Damp the detector heads and give them a face-like canonical layout at scale 1."""
    for head in ("kp", "pitch", "yaw", "roll", "t", "scale", "exp"):
        state[f"detector.fc_{head}.weight"] *= 0.01
        state[f"detector.fc_{head}.bias"].zero_()
    kp_bias = state["detector.fc_kp.bias"]
    for index, (x, y) in FACE_LAYOUT.items():
        kp_bias[3 * index: 3 * index + 2] = torch.tensor([x, y])
    state["detector.fc_scale.bias"].fill_(1.0)


def _fresh(name: str, like: torch.Tensor) -> torch.Tensor:
    """A new parameter of the motion/temporal modules: unit norms, zero biases, small weights."""
    if like.ndim == 1:
        return torch.ones_like(like) if "norm" in name and name.endswith(".weight") else torch.zeros_like(like)
    return torch.randn_like(like) * 0.02


def _unet_files(base: dict[str, torch.Tensor], unet_config: dict) -> dict[str, dict[str, torch.Tensor]]:
    """The PersonaLive UNet files: the base weights where a key exists in the base, fresh values elsewhere.

    What the loader computes itself (the harmless missing keys) is left out; the temporal modules go
    to temporal_module.pth, the rest of the denoising UNet to denoising_unet.pth.
    """
    reference = NETWORKS["reference_unet"].empty(unet_config).state_dict()
    denoising = NETWORKS["denoising_unet"]
    state = {name: base[name] if name in base else _fresh(name, tensor)
             for name, tensor in denoising.empty(unet_config).to_empty(device="cpu").state_dict().items()
             if not denoising.harmless_missing(name)}
    return {
        "reference_unet": {k: v for k, v in base.items() if k in reference},
        "denoising_unet": {k: v for k, v in state.items() if "temporal_modules" not in k},
        "temporal_module": {k: v for k, v in state.items() if "temporal_modules" in k},
    }


def _write_tiny_autoencoder(folder: Path, config: dict) -> None:
    from diffusers import AutoencoderTiny

    _write_json(config, folder / "config.json")
    _save(AutoencoderTiny(**{k: v for k, v in config.items() if k != "_class_name"}).state_dict(),
          folder / "diffusion_pytorch_model.safetensors")


def write_random_weights(out_dir: str | Path, configs: dict, taesd_config: dict, seed: int = 0,
                         check=None) -> Path:
    """Every official file (as .safetensors) with seeded random weights of the networks `configs` describes
    (see `CONFIGS`), and a tiny autoencoder in taesd/. One file is in memory at a time. `check(key, state)`,
    when given, sees every file's state dict before it is written (e.g. to compare shapes)."""
    from diffusers import UNet2DConditionModel

    out = Path(out_dir)
    torch.manual_seed(seed)
    configs = {spec.config: configs[spec.config] for spec in NETWORKS.values() if spec.config}
    for key, config in configs.items():
        _write_json(config, out / BY_KEY[key].relpath)

    def save(key: str, state: dict) -> None:
        if check is not None:
            check(key, state)
        _save(state, out / BY_KEY[key].relpath, torch.float16 if key in STORED_IN_FP16 else torch.float32)

    # Values are drawn in this order (a different order changes every file).
    base = UNet2DConditionModel.from_config(configs["base_unet_config"]).state_dict()
    save("base_unet", base)
    for key, state in _unet_files(base, configs["base_unet_config"]).items():
        save(key, state)
    del base, state
    for name in ("pose_guider", "motion_encoder", "motion_extractor", "vae", "image_encoder"):
        spec = NETWORKS[name]
        (key,) = spec.files
        state = spec.build(configs.get(spec.config)).state_dict()  # random values, on the CPU
        if name == "motion_extractor":
            _condition_detector(state)
        save(key, state)
    _write_tiny_autoencoder(out / TINY_DECODER_DIR, taesd_config)  # drawn last: the other files stay as they were
    return out


def write_tiny_weights(out_dir: str | Path, seed: int = 0) -> Path:
    """Write every official file (as .safetensors) with tiny random weights under `out_dir`, and a tiny
    autoencoder in taesd/ (the optional fast decoder)."""
    out = write_random_weights(out_dir, CONFIGS, TAESD_CONFIG, seed)
    (out / ".tiny-random-weights").write_text(FORMAT)
    return out


def cached_tiny_weights() -> Path:
    """Tiny random weights in the user's cache folder, written on first use."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "personalive" / FORMAT
    stamp = cache / ".tiny-random-weights"
    if not (stamp.is_file() and stamp.read_text() == FORMAT):
        write_tiny_weights(cache)
    return cache
