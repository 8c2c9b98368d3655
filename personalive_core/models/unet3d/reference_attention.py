"""The reference tokens the denoising UNet attends to, projected once to keys and values.

In every spatial self-attention of the denoising UNet the keys/values are
`[frame tokens, reference tokens, keyframe 1 tokens, ...]` (oldest keyframe first). The original
re-projects the constant reference/keyframe tokens for every frame of every call. Its `to_k`/`to_v`
have no bias, so `to_k(cat(n, bank)) = cat(to_k(n), to_k(bank))`: here the bank part is projected
once per reference image (and once per history keyframe) and kept in this object, which the UNet
receives as an argument. The UNet itself holds no reference state, so one UNet can serve several
references.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .unet import DenoisingUNet3D

# The original stores reference and keyframe features as float16 in every precision mode: its bank
# update defaults to dtype=torch.float16 and the wrapper never passes another dtype. In an fp32 run
# the fp16 values are promoted back to fp32 when concatenated with the frame tokens. Reproducing the
# original numbers therefore requires the same rounding (skipping it changes every self-attention
# by about 1e-4 relative).
BANK_DTYPE = torch.float16


def round_like_original(features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The reference features as the original stores them (rounded to float16)."""
    return {name: value.to(BANK_DTYPE) for name, value in features.items()}


class ReferenceAttention:
    """Per block: the keys and values of the reference tokens and of the history keyframes.

    Create with `from_features`; grow with `add_keyframe`. `keys_values(block)` returns
    `(keys, values)`, each `(1, (1 + num_keyframes)·L, C)` in the UNet's dtype.
    The keyframe count is not capped here (the original stops adding after 3; the caller decides).
    """

    def __init__(self, unet: DenoisingUNet3D, keys_values: dict[str, tuple[torch.Tensor, torch.Tensor]]):
        self._unet = unet
        self._kv = dict(keys_values)
        self._num_sets = 1

    @classmethod
    def from_features(cls, unet: DenoisingUNet3D, features: dict[str, torch.Tensor]) -> ReferenceAttention:
        """From the reference UNet's features of the reference image (fp16-rounded first)."""
        return cls(unet, unet.reference_keys_values(round_like_original(features)))

    def add_keyframe(self, features: dict[str, torch.Tensor]) -> None:
        """Append a history keyframe's features (fp16-rounded first) after the existing tokens."""
        new = self._unet.reference_keys_values(round_like_original(features))
        self._kv = {
            name: (torch.cat([k, new[name][0]], dim=1), torch.cat([v, new[name][1]], dim=1))
            for name, (k, v) in self._kv.items()
        }
        self._num_sets += 1

    @property
    def num_keyframes(self) -> int:
        return self._num_sets - 1

    def blocks(self) -> list[str]:
        return list(self._kv)

    def keys_values(self, block: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self._kv[block]
