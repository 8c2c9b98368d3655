"""One description per PersonaLive network: its files, its config, how to build it empty, which
absent or extra keys are harmless (and why), renames and post-load fix-ups.

`models.loader` loads any of them, `inspect-weights` checks a folder against them and
`tiny_weights` writes files that fit them. The network classes stay in their own modules; they are
imported only when a network is built, so reading the catalog is cheap.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsError
from ..weights.checked_load import StateView

Config = dict | None
States = Mapping[str, Mapping[str, torch.Tensor]]  # official file key -> its tensors (or meta stand-ins)


@dataclass(frozen=True)
class Tolerated:
    """A glob pattern of state-dict keys that may be absent from (or extra in) the files, and why."""

    pattern: str
    reason: str


@dataclass(frozen=True)
class NetworkSpec:
    """How one network is found, built and filled. See the module docstring."""

    name: str  # attribute of `PersonaLiveModels`
    label: str  # the model name in load reports and errors
    files: tuple[str, ...]  # keys of `weights.official.BY_KEY`, read in this order; later files win
    config: str | None  # key of the config.json the network is built from, if any
    build: Callable[[Config], nn.Module]  # the network with its constructor's values (see `empty`)
    missing_ok: tuple[Tolerated, ...] = ()  # keys no file needs to provide
    unexpected_ok: tuple[Tolerated, ...] = ()  # file keys the network does without
    rename: Callable[[Mapping[str, torch.Tensor]], Mapping[str, torch.Tensor]] | None = None  # per file
    finish: Callable[[nn.Module, torch.device, torch.dtype], None] | None = None  # fix-ups after filling
    # Whether the files fit those of the other networks: a message saying why not, or None.
    check: Callable[[Config, States, Mapping[str, Path]], str | None] | None = None

    def empty(self, config: Config) -> nn.Module:
        """The network built on the meta device: right layout, no memory, no values."""
        with torch.device("meta"):
            return self.build(config)

    def layout(self, config: Config) -> dict[str, tuple[int, ...]]:
        """{state-dict key: shape} that the files must provide together."""
        return {k: tuple(v.shape) for k, v in self.empty(config).state_dict().items()}

    def harmless_missing(self, key: str) -> bool:
        """Whether `key` may be absent from every file."""
        return any(fnmatchcase(key, t.pattern) for t in self.missing_ok)

    def harmless_unexpected(self, key: str) -> bool:
        """Whether `key` may be in a file although the network has no such tensor."""
        return any(fnmatchcase(key, t.pattern) for t in self.unexpected_ok)


def read_config(path: str | Path) -> dict:
    """A model's `config.json` as a dict."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"Cannot read the model config {path}: {exc}") from exc


# --- builders (empty when called through `NetworkSpec.empty`) ---------------------------------------


def _clip(config: Config) -> nn.Module:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    # Eager attention, as in transformers 4.36 which the original pins (SDPA rounds differently).
    return CLIPVisionModelWithProjection._from_config(CLIPVisionConfig.from_dict(config), attn_implementation="eager")


def _vae(config: Config) -> nn.Module:
    from diffusers import AutoencoderKL

    return AutoencoderKL.from_config(config)


def _reference_unet(config: Config) -> nn.Module:
    from .reference_unet import build_reference_unet

    return build_reference_unet(config)


def _denoising_unet(config: Config) -> nn.Module:
    from .unet3d import build_denoising_unet

    return build_denoising_unet(config)


def _pose_guider(config: Config) -> nn.Module:
    from .pose_guider import PoseGuider

    return PoseGuider(out_channels=config["block_out_channels"][0])  # its features are added after conv_in


def _motion_encoder(config: Config) -> nn.Module:
    from .motion_encoder import MotionEncoder

    return MotionEncoder()


def _motion_extractor(config: Config) -> nn.Module:
    from .motion_extractor import MotionExtractor

    return MotionExtractor(num_kp=21)


# --- renames, fix-ups and checks ---------------------------------------------------------------------

# Checkpoints saved by old diffusers versions (as sd-vae-ft-mse was) name the mid-block attention
# projections differently; diffusers renames them when it loads a file itself.
_LEGACY_ATTENTION_NAMES = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def _legacy_attention_name(key: str) -> str:
    prefix, _, rest = key.rpartition(".attentions.0.")
    name, dot, leaf = rest.partition(".")
    if prefix and dot and name in _LEGACY_ATTENTION_NAMES:
        return f"{prefix}.attentions.0.{_LEGACY_ATTENTION_NAMES[name]}.{leaf}"
    return key


def _unit_conv_as_linear(value: torch.Tensor) -> torch.Tensor:
    """Legacy files may store the projections as 1x1 convolutions `(C, C, 1, 1)`; they are linear."""
    return value[:, :, 0, 0] if value.ndim == 4 else value


def _rename_legacy_attention(state: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    """`…mid_block.attentions.0.{query,key,value,proj_attn}` under their current names (lazily)."""
    return StateView(state, {_legacy_attention_name(k): k for k in state}, adapt_renamed=_unit_conv_as_linear)


def _rebuild_position_ids(model: nn.Module, device: torch.device, dtype: torch.dtype) -> None:
    """Recreate CLIP's non-persistent `position_ids` buffer (0..N-1) that a meta build leaves empty."""
    embeddings = model.vision_model.embeddings
    ids = torch.arange(embeddings.num_positions, device=device)[None]
    embeddings.register_buffer("position_ids", ids, persistent=False)


def _compute_position_tables(model: nn.Module, device: torch.device, dtype: torch.dtype) -> None:
    """The temporal modules' tables that no file provided, as the original's constructor computes them."""
    from .unet3d.temporal_module import SinusoidalPositions

    for module in model.modules():
        if isinstance(module, SinusoidalPositions) and module.pe.is_meta:
            module.reset_table(device, dtype)


def _fill_unused_extractor_parts(model: nn.Module, device: torch.device, dtype: torch.dtype) -> None:
    """The bin indices 0..65 and (zeros for) the unused expression head, where the file lacks them."""
    from .motion_extractor import NUM_BINS

    if model.idx_tensor.is_meta:
        model.idx_tensor = torch.arange(NUM_BINS, dtype=torch.float32, device=device).to(model.idx_tensor.dtype)
    head = model.detector.fc_exp
    for name, param in head.named_parameters():
        if param.is_meta:  # never computed, but must hold a real value
            setattr(head, name, nn.Parameter(torch.zeros(param.shape, dtype=param.dtype, device=device),
                                             requires_grad=False))


def _pose_guider_fits_unet(config: Config, states: States, paths: Mapping[str, Path]) -> str | None:
    """The pose features are added to the UNet's `conv_in` output: their widths must agree."""
    weight = states["pose_guider"].get("conv_out_modify.weight")
    if weight is None:
        return None  # reported as a missing key
    width, unet_width = weight.shape[0], config["block_out_channels"][0]
    if width == unet_width:
        return None
    return (f"The pose guider {paths['pose_guider']} outputs {width} channels, but the UNet's first block "
            f"is {unet_width} wide ({paths['base_unet_config']}): the two files come from different models.")


# --- the catalog -------------------------------------------------------------------------------------

_POSITION_TABLES = Tolerated(
    "*.pos_encoder.pe", "the temporal modules' sinusoidal position tables are deterministic; when a file "
    "omits them the loader computes them as the original's constructor does")

NETWORKS: dict[str, NetworkSpec] = {spec.name: spec for spec in (
    NetworkSpec(
        "image_encoder", "CLIP image encoder", ("image_encoder",), "image_encoder_config", _clip,
        unexpected_ok=(Tolerated("vision_model.embeddings.position_ids",
                                 "older checkpoints store the constant position indices 0..N-1; current "
                                 "transformers keeps them out of the state dict and the loader rebuilds them"),),
        finish=_rebuild_position_ids),
    NetworkSpec("vae", "VAE", ("vae",), "vae_config", _vae, rename=_rename_legacy_attention),
    # Upstream starts from the base UNet and then loads reference_unet.pth strictly, which overrides
    # every weight: the base weights file never contributes a value and is not read (only its config).
    NetworkSpec("reference_unet", "reference UNet", ("reference_unet",), "base_unet_config", _reference_unet),
    # Upstream loads the base SD weights, then denoising_unet.pth and temporal_module.pth, all
    # non-strictly; every key must come from one of them except the computable position tables.
    NetworkSpec(
        "denoising_unet", "denoising UNet", ("base_unet", "denoising_unet", "temporal_module"), "base_unet_config",
        _denoising_unet, missing_ok=(_POSITION_TABLES,), finish=_compute_position_tables),
    NetworkSpec("pose_guider", "pose_guider", ("pose_guider",), "base_unet_config", _pose_guider,
                check=_pose_guider_fits_unet),
    NetworkSpec("motion_encoder", "motion_encoder", ("motion_encoder",), None, _motion_encoder),
    # The original loads this file with strict=False.
    NetworkSpec(
        "motion_extractor", "motion_extractor", ("motion_extractor",), None, _motion_extractor,
        missing_ok=(
            Tolerated("idx_tensor", "the head-pose bin indices 0..65, which LivePortrait-derived files lack; "
                                    "the loader recreates them"),
            Tolerated("detector.fc_exp.*", "the expression head exists but PersonaLive never uses its output; "
                                           "the loader fills it with zeros"),
        ),
        finish=_fill_unused_extractor_parts),
)}
