"""The reference UNet: the SD1 2D UNet that writes the reference features of every transformer block.

It is a stock diffusers `UNet2DConditionModel` built from the base `unet/config.json`. The official
class has no output head (`conv_norm_out`/`conv_out`), and `reference_unet.pth` (loaded strictly
upstream) holds exactly the remaining keys, so the head is removed here too. The model runs once per
reference image (and once per history keyframe) at timestep 0 with the CLIP token as context; its
output is never used. What is used is the input of every transformer block's first attention, i.e.
the output of `transformer_blocks.0.norm1`, which a forward hook records.
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention import BasicTransformerBlock
from torch import nn


class _AllFeaturesWritten(Exception):
    """Raised by the last hook: nothing after the last recorded block is used."""


class ReferenceUNet(UNet2DConditionModel):
    """SD1 `UNet2DConditionModel` without output head, with a feature-writing pass."""

    def drop_output_head(self) -> None:
        """Remove `conv_norm_out`/`conv_out`, as the official reference UNet class does."""
        self.conv_norm_out = None
        self.conv_act = None
        self.conv_out = nn.Identity()

    def feature_blocks(self) -> dict[str, BasicTransformerBlock]:
        """The transformer blocks whose `norm1` output is recorded, by module path (module order)."""
        return {name: m for name, m in self.named_modules() if isinstance(m, BasicTransformerBlock)}

    @torch.no_grad()
    def write_features(self, latents: torch.Tensor, clip_tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run at timestep 0 and return each transformer block's `norm1` output `(1, L, C)`.

        `latents` `(1, 4, h, w)` are already scaled by 0.18215; `clip_tokens` is `(1, 1, D)`.
        Values are in the model dtype (no fp16 rounding here; see `ReferenceAttention`).
        The pass stops as soon as the last block has written its features: the rest of the
        network (and its output) is never used, so this changes no number.
        """
        blocks = self.feature_blocks()
        features: dict[str, torch.Tensor] = {}

        def recorder(name: str):
            def hook(_module, _inputs, output):
                features[name] = output.detach()
                if len(features) == len(blocks):
                    raise _AllFeaturesWritten

            return hook

        handles = [block.norm1.register_forward_hook(recorder(name)) for name, block in blocks.items()]
        device, dtype = self.device, self.dtype
        timestep = torch.zeros((1,), dtype=dtype, device=device)
        try:
            self(latents.to(device, dtype), timestep, encoder_hidden_states=clip_tokens.to(device, dtype))
        except _AllFeaturesWritten:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return {name: features[name] for name in blocks}


def build_reference_unet(base_config: dict) -> ReferenceUNet:
    """An empty (meta-device) reference UNet for the given base `unet/config.json` contents."""
    with torch.device("meta"):
        model = ReferenceUNet.from_config(base_config)
    model.drop_output_head()
    return model
