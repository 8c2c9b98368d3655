"""The reference keys/values: projected once, appended after each frame's own tokens, fp16-rounded."""

from __future__ import annotations

import json

import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from personalive_core.models.unet3d import ReferenceAttention, build_denoising_unet
from personalive_core.models.unet3d.attention_processor import ReferenceSelfAttnProcessor


def _attention(dim=32, heads=8):
    torch.manual_seed(0)
    return Attention(query_dim=dim, heads=heads, dim_head=dim // heads, bias=False)


def test_without_reference_it_is_plain_sdpa_attention():
    attn = _attention()
    x = torch.randn(4, 64, 32)
    expected = AttnProcessor2_0()(attn, x)
    attn.set_processor(ReferenceSelfAttnProcessor())
    assert torch.equal(attn(x), expected)


def test_precomputed_reference_equals_projecting_the_concatenation():
    """to_k/to_v have no bias: to_k(cat(n, bank)) = cat(to_k(n), to_k(bank)), up to GEMM rounding."""
    attn = _attention()
    n, bank = torch.randn(4, 64, 32), torch.randn(1, 80, 32)
    expected = AttnProcessor2_0()(attn, n, encoder_hidden_states=torch.cat([n, bank.expand(4, -1, -1)], dim=1))
    got = ReferenceSelfAttnProcessor()(attn, n, reference_kv=(attn.to_k(bank), attn.to_v(bank)))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def small_unet(golden):
    config = json.loads((golden.dir / "configs/sd-image-variations-diffusers/unet/config.json").read_text())
    unet = build_denoising_unet(config).to_empty(device="cpu")
    torch.manual_seed(0)
    for p in unet.parameters():
        p.data.normal_(0, 0.1)
    return unet


def _features(unet, seed):
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, block in unet.reference_blocks().items():
        width = block.norm1.normalized_shape[0]
        out[name] = torch.randn(1, 5, width, generator=gen)
    return out


def test_keyframes_follow_the_reference_oldest_first(small_unet):
    ref, kf1, kf2 = (_features(small_unet, s) for s in (1, 2, 3))
    attention = ReferenceAttention.from_features(small_unet, ref)
    assert attention.num_keyframes == 0
    attention.add_keyframe(kf1)
    attention.add_keyframe(kf2)
    assert attention.num_keyframes == 2
    for name, block in small_unet.reference_blocks().items():
        keys, values = attention.keys_values(name)
        rows = torch.cat([ref[name], kf1[name], kf2[name]], dim=1).half().float()
        # Projected per set vs all at once: equal up to GEMM rounding.
        torch.testing.assert_close(keys, block.attn1.to_k(rows), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(values, block.attn1.to_v(rows), rtol=1e-6, atol=1e-6)


def test_features_are_rounded_to_fp16_like_the_original(small_unet):
    features = _features(small_unet, 4)
    a = ReferenceAttention.from_features(small_unet, features)
    b = ReferenceAttention.from_features(small_unet, {k: v.half() for k, v in features.items()})
    name = next(iter(features))
    assert torch.equal(a.keys_values(name)[0], b.keys_values(name)[0])
    assert a.keys_values(name)[0].dtype == torch.float32


def test_features_must_cover_every_block(small_unet):
    features = _features(small_unet, 5)
    features.pop(next(iter(features)))
    with pytest.raises(ValueError, match="missing"):
        ReferenceAttention.from_features(small_unet, features)
