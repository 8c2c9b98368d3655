"""The denoising UNet: SD1 layout with per-frame timesteps, pose features, reference attention,
motion modules and temporal modules (the original's `UNet3DConditionModel`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import nn

from .blocks import Conditioning, DownBlock3D, MidBlock3D, UpBlock3D
from .layers import LayerFactory
from .spatial_transformer import ReferenceTransformerBlock

if TYPE_CHECKING:
    from .reference_attention import ReferenceAttention


class DenoisingUNet3D(nn.Module):
    """ε-prediction for a window of F latent frames, each at its own timestep.

    Frames are folded into the batch inside the network, so every convolution and group norm works
    per frame. Key names and shapes equal the official `denoising_unet.pth` + `temporal_module.pth`.
    """

    def __init__(
        self,
        *,
        in_channels: int = 4,
        out_channels: int = 4,
        down_block_types: tuple[str, ...] = ("CrossAttnDownBlock3D",) * 3 + ("DownBlock3D",),
        up_block_types: tuple[str, ...] = ("UpBlock3D",) + ("CrossAttnUpBlock3D",) * 3,
        block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280),
        layers_per_block: int = 2,
        attention_head_dim: int | tuple[int, ...] = 8,
        cross_attention_dim: int = 768,
        norm_num_groups: int = 32,
        norm_eps: float = 1e-5,
        flip_sin_to_cos: bool = True,
        freq_shift: int = 0,
        downsample_padding: int = 1,
        mid_block_scale_factor: float = 1.0,
        motion_cross_attention_dim: int = 16,
        motion_num_heads: int = 8,
        temporal_num_heads: int = 8,
        temporal_max_len: int = 32,
    ):
        super().__init__()
        levels = len(block_out_channels)
        if len(down_block_types) != levels or len(up_block_types) != levels:
            raise ValueError("need one down and one up block type per entry of block_out_channels")
        # SD1 configs name the number of heads `attention_head_dim` (a diffusers legacy).
        heads = [attention_head_dim] * levels if isinstance(attention_head_dim, int) else list(attention_head_dim)
        time_embed_dim = block_out_channels[0] * 4
        layers = LayerFactory(
            temb_channels=time_embed_dim,
            norm_num_groups=norm_num_groups,
            norm_eps=norm_eps,
            cross_attention_dim=cross_attention_dim,
            motion_cross_attention_dim=motion_cross_attention_dim,
            motion_num_heads=motion_num_heads,
            temporal_num_heads=temporal_num_heads,
            temporal_max_len=temporal_max_len,
        )

        self.conv_in = nn.Conv2d(in_channels, block_out_channels[0], kernel_size=3, padding=1)
        self.time_proj = Timesteps(block_out_channels[0], flip_sin_to_cos, freq_shift)
        self.time_embedding = TimestepEmbedding(block_out_channels[0], time_embed_dim)
        self.down_blocks = nn.ModuleList()
        self.up_blocks = nn.ModuleList()

        out_ch = block_out_channels[0]
        for i, kind in enumerate(down_block_types):
            in_ch, out_ch = out_ch, block_out_channels[i]
            self.down_blocks.append(
                DownBlock3D(layers, in_ch, out_ch, layers_per_block, _heads_if(kind, "CrossAttnDownBlock3D", heads[i]),
                            add_downsample=i < levels - 1, downsample_padding=downsample_padding)
            )
        self.mid_block = MidBlock3D(layers, block_out_channels[-1], heads[-1], mid_block_scale_factor)
        reversed_channels, reversed_heads = block_out_channels[::-1], heads[::-1]
        out_ch = reversed_channels[0]
        for i, kind in enumerate(up_block_types):
            prev_ch, out_ch = out_ch, reversed_channels[i]
            in_ch = reversed_channels[min(i + 1, levels - 1)]
            self.up_blocks.append(
                UpBlock3D(layers, in_ch, prev_ch, out_ch, layers_per_block + 1,
                          _heads_if(kind, "CrossAttnUpBlock3D", reversed_heads[i]), add_upsample=i < levels - 1)
            )
        self.conv_norm_out = nn.GroupNorm(norm_num_groups, block_out_channels[0], eps=norm_eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(block_out_channels[0], out_channels, kernel_size=3, padding=1)

        for name, module in self.named_modules():
            if isinstance(module, ReferenceTransformerBlock):
                module.reference_key = name

    @property
    def dtype(self) -> torch.dtype:
        return self.conv_in.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.conv_in.weight.device

    def reference_blocks(self) -> dict[str, ReferenceTransformerBlock]:
        """The blocks that read reference features, by module path (module order)."""
        return {name: m for name, m in self.named_modules() if isinstance(m, ReferenceTransformerBlock)}

    @torch.no_grad()
    def reference_keys_values(self, features: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Project reference features `(1, L, C)` with each block's self-attention `to_k`/`to_v`.

        The inputs are cast to the model dtype first, as the original's concatenation with the
        frame tokens does.
        """
        blocks = self.reference_blocks()
        if set(features) != set(blocks):
            missing, extra = sorted(set(blocks) - set(features)), sorted(set(features) - set(blocks))
            raise ValueError(f"reference features do not fit the UNet: missing {missing[:3]}, unexpected {extra[:3]}")
        out = {}
        for name, block in blocks.items():
            x = features[name].to(device=self.device, dtype=self.dtype)
            out[name] = (block.attn1.to_k(x), block.attn1.to_v(x))
        return out

    @torch.no_grad()
    def forward(
        self,
        sample: torch.Tensor,
        timesteps: torch.Tensor,
        clip_tokens: torch.Tensor,
        motion: torch.Tensor,
        pose: torch.Tensor,
        reference: ReferenceAttention | None,
    ) -> torch.Tensor:
        """ε for `sample` `(B, 4, F, h, w)`.

        `timesteps` `(F,)` one per frame; `clip_tokens` `(B, 1, D)`; `motion` `(B, F, 32, 16)`;
        `pose` `(B, C0, F, h, w)` pose features, added to the `conv_in` output only;
        `reference` the keys/values appended in every spatial self-attention (None: none).
        """
        batch, _, frames, height, width = sample.shape
        if timesteps.shape != (frames,):
            raise ValueError(f"timesteps must be one per frame, shape ({frames},), got {tuple(timesteps.shape)}")
        device, dtype = self.device, self.dtype
        temb = self.time_embedding(self.time_proj(timesteps.to(device)).to(dtype))
        cond = Conditioning(
            temb=temb.repeat(batch, 1),
            clip=clip_tokens.to(device, dtype).repeat_interleave(frames, dim=0),
            motion=motion.to(device, dtype).flatten(0, 1),
            num_frames=frames,
            reference=reference,
        )
        x = self.conv_in(_fold(sample.to(device, dtype))) + _fold(pose.to(device, dtype))

        skips = [x]
        for block in self.down_blocks:
            x, block_skips = block(x, cond)
            skips.extend(block_skips)
        x = self.mid_block(x, cond)

        up_factor = 2 ** sum(b.upsamplers is not None for b in self.up_blocks)
        odd_size = height % up_factor != 0 or width % up_factor != 0
        for block in self.up_blocks:
            n = len(block.resnets)
            block_skips, skips = skips[-n:], skips[:-n]
            size = tuple(skips[-1].shape[-2:]) if (odd_size and block.upsamplers is not None) else None
            x = block(x, block_skips, cond, size)

        x = self.conv_out(self.conv_act(self.conv_norm_out(x)))
        return _unfold(x, batch, frames)


def _heads_if(kind: str, cross_attention_kind: str, heads: int) -> int | None:
    """`heads` for a block type with cross-attention, None for its plain sibling."""
    plain_kind = cross_attention_kind.replace("CrossAttn", "")
    if kind not in (cross_attention_kind, plain_kind):
        raise ValueError(f"unsupported block type {kind!r}; expected {cross_attention_kind!r} or {plain_kind!r}")
    return heads if kind == cross_attention_kind else None


def _fold(x: torch.Tensor) -> torch.Tensor:
    """`(B, C, F, H, W)` → `(B·F, C, H, W)`."""
    b, c, f, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)


def _unfold(x: torch.Tensor, batch: int, frames: int) -> torch.Tensor:
    """`(B·F, C, H, W)` → `(B, C, F, H, W)`."""
    _, c, h, w = x.shape
    return x.reshape(batch, frames, c, h, w).permute(0, 2, 1, 3, 4)
