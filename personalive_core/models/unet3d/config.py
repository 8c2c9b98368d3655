"""The denoising UNet's configuration: the 2D base `unet/config.json` plus the stage-3 additions.

The original (`UNet3DConditionModel.from_pretrained_2d`) reads the base config, swaps the block
types for their 3D versions and adds the motion/temporal module settings of
`configs/inference/inference_stage3.yaml`; every width, head count and norm setting comes from the
base config.
"""

from __future__ import annotations

DOWN_BLOCK_TYPES_2D_TO_3D = {"CrossAttnDownBlock2D": "CrossAttnDownBlock3D", "DownBlock2D": "DownBlock3D"}
UP_BLOCK_TYPES_2D_TO_3D = {"CrossAttnUpBlock2D": "CrossAttnUpBlock3D", "UpBlock2D": "UpBlock3D"}

# Stage-3 settings of the original (inference_stage3.yaml): a motion module (cross-attention to the
# 32 motion tokens of width 16) and a temporal module (self-attention across frames with a
# sinusoidal position table of 32 rows) after every spatial layer, at every resolution and in the
# mid block; 8 heads in both.
STAGE3_DEFAULTS = {
    "motion_cross_attention_dim": 16,
    "motion_num_heads": 8,
    "temporal_num_heads": 8,
    "temporal_max_len": 32,
}

_REQUIRED = ("in_channels", "out_channels", "block_out_channels", "layers_per_block", "attention_head_dim",
             "cross_attention_dim", "down_block_types", "up_block_types")
# Keys with diffusers' UNet2DConditionModel defaults, used when a config omits them.
_OPTIONAL = {"norm_num_groups": 32, "norm_eps": 1e-5, "flip_sin_to_cos": True, "freq_shift": 0,
             "downsample_padding": 1, "mid_block_scale_factor": 1.0}


def denoising_unet_config(base_config: dict, **overrides) -> dict:
    """Constructor kwargs of `DenoisingUNet3D` for a base SD1 `unet/config.json` dict."""
    missing = [k for k in _REQUIRED if k not in base_config]
    if missing:
        raise ValueError(f"base UNet config lacks {missing}")
    if base_config.get("act_fn", "silu") != "silu" or base_config.get("use_linear_projection", False):
        raise ValueError("the base UNet config is not an SD1 UNet (act_fn must be silu, no linear projection)")
    config = {k: base_config[k] for k in _REQUIRED}
    config.update({k: base_config.get(k, default) for k, default in _OPTIONAL.items()})
    config["block_out_channels"] = tuple(config["block_out_channels"])
    config["down_block_types"] = tuple(_map(base_config["down_block_types"], DOWN_BLOCK_TYPES_2D_TO_3D))
    config["up_block_types"] = tuple(_map(base_config["up_block_types"], UP_BLOCK_TYPES_2D_TO_3D))
    config.update(STAGE3_DEFAULTS)
    config.update(overrides)
    return config


def _map(types: list[str], table: dict[str, str]) -> list[str]:
    unknown = [t for t in types if t not in table]
    if unknown:
        raise ValueError(f"unsupported UNet block type(s) {unknown}; expected {sorted(table)}")
    return [table[t] for t in types]
