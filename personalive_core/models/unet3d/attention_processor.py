"""Self-attention whose keys/values also contain precomputed reference tokens.

The original concatenates each frame's normalised tokens with the reference (and history
keyframe) features and projects the whole sequence: `to_k(cat(n, bank))`. `to_k`/`to_v` have no
bias, so this equals `cat(to_k(n), to_k(bank))`; the bank part is projected once per reference
(`ReferenceAttention`) and only concatenated here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention


class ReferenceSelfAttnProcessor:
    """diffusers attention processor: SDPA self-attention with extra key/value tokens.

    `reference_kv` is `(keys, values)`, each `(1, L_ref, inner_dim)`, shared by every batch element
    (frame) and appended after the element's own tokens. Without it this is plain self-attention,
    the same computation as diffusers' `AttnProcessor2_0`.
    """

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        reference_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ValueError("ReferenceSelfAttnProcessor is for unmasked self-attention only")
        batch = hidden_states.shape[0]
        query = attn.to_q(hidden_states)
        key = attn.to_k(hidden_states)
        value = attn.to_v(hidden_states)
        if reference_kv is not None:
            ref_key, ref_value = reference_kv
            key = torch.cat([key, ref_key.to(key.device, key.dtype).expand(batch, -1, -1)], dim=1)
            value = torch.cat([value, ref_value.to(value.device, value.dtype).expand(batch, -1, -1)], dim=1)

        head_dim = key.shape[-1] // attn.heads
        query = query.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        out = F.scaled_dot_product_attention(query, key, value, dropout_p=0.0, is_causal=False)
        out = out.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(query.dtype)
        out = attn.to_out[0](out)
        out = attn.to_out[1](out)
        return out / attn.rescale_output_factor
