"""Motion encoder: face crops -> 32 motion tokens of 16 dims that drive the denoising UNet."""

from __future__ import annotations

import torch
from torch import nn

from .fan_encoder import FANEncoder
from .sincos import sincos_table_1d

NUM_TOKENS = 32
TOKEN_DIM = 16


class MotionEncoder(nn.Module):
    """Face crops (N,3,224,224) in [-1,1] -> motion tokens (N,32,16).

    The FAN feature (`model`) is projected by `final_proj` (512 -> 512), cut into 32 tokens of 16 values
    and offset by the fixed table `pe` (a persistent buffer, so the checkpoint's copy is used).
    """

    def __init__(self):
        super().__init__()
        self.model = FANEncoder()
        self.register_buffer("pe", sincos_table_1d(TOKEN_DIM, NUM_TOKENS).unsqueeze(0))
        self.final_proj = nn.Linear(NUM_TOKENS * TOKEN_DIM, NUM_TOKENS * TOKEN_DIM)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        features = self.model(faces.to(self.final_proj.weight.dtype))
        tokens = self.final_proj(features)
        return tokens.view(-1, NUM_TOKENS, TOKEN_DIM) + self.pe
