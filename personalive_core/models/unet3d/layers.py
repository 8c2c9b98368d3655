"""Factory for the four layer kinds of the denoising UNet, with the shapes they share."""

from __future__ import annotations

from dataclasses import dataclass

from diffusers.models.resnet import ResnetBlock2D

from .motion_module import MotionModule
from .spatial_transformer import SpatialTransformer
from .temporal_module import TemporalModule


@dataclass(frozen=True)
class LayerFactory:
    """Builds resnets (R), spatial transformers (S), motion modules (M) and temporal modules (T).

    Resnets are diffusers `ResnetBlock2D`s applied to frames folded into the batch, which is what
    the original's inflated (per-frame) convolutions and group norms compute; each frame gets the
    embedding of its own timestep.
    """

    temb_channels: int
    norm_num_groups: int
    norm_eps: float
    cross_attention_dim: int
    motion_cross_attention_dim: int
    motion_num_heads: int
    temporal_num_heads: int
    temporal_max_len: int

    def resnet(self, in_channels: int, out_channels: int, output_scale_factor: float = 1.0) -> ResnetBlock2D:
        return ResnetBlock2D(
            in_channels=in_channels,
            out_channels=out_channels,
            temb_channels=self.temb_channels,
            eps=self.norm_eps,
            groups=self.norm_num_groups,
            dropout=0.0,
            time_embedding_norm="default",
            non_linearity="swish",
            output_scale_factor=output_scale_factor,
        )

    def spatial(self, channels: int, num_heads: int) -> SpatialTransformer:
        return SpatialTransformer(channels, num_heads, self.cross_attention_dim, self.norm_num_groups)

    def motion(self, channels: int) -> MotionModule:
        return MotionModule(channels, self.motion_num_heads, self.motion_cross_attention_dim)

    def temporal(self, channels: int) -> TemporalModule:
        return TemporalModule(channels, self.temporal_num_heads, self.temporal_max_len)
