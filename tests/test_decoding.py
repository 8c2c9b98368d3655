"""Chunked decoding with the VAE, and the optional tiny autoencoder (TAESD)."""

from __future__ import annotations

import json

import pytest
import torch
from diffusers import AutoencoderKL, AutoencoderTiny
from safetensors.torch import save_file

from personalive_core.decoding import TINY_DECODER_DIR, decode_all, decode_chunks, load_tiny_decoder
from personalive_core.errors import WeightsError

SMALL_VAE = dict(block_out_channels=[32, 32], down_block_types=["DownEncoderBlock2D"] * 2,
                 up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4, norm_num_groups=32, layers_per_block=1)


def test_chunk_size_does_not_change_the_frames():
    torch.manual_seed(0)
    vae = AutoencoderKL(**SMALL_VAE).eval()
    latents = torch.randn(7, 4, 8, 8)
    whole = decode_all(vae, latents, chunk_size=7)
    pieces = list(decode_chunks(vae, latents, chunk_size=3))
    assert [p.shape[0] for p in pieces] == [3, 3, 1]
    assert whole.shape == (7, 16, 16, 3) and 0 <= whole.min() and whole.max() <= 1
    torch.testing.assert_close(torch.cat(pieces), whole, atol=1e-5, rtol=0)


def test_tiny_autoencoder_from_the_weights_folder(tmp_path):
    torch.manual_seed(0)
    config = dict(encoder_block_out_channels=[16, 16], decoder_block_out_channels=[16, 16],
                  num_encoder_blocks=[1, 1], num_decoder_blocks=[1, 1], latent_channels=4)
    model = AutoencoderTiny(**config)
    folder = tmp_path / TINY_DECODER_DIR
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"_class_name": "AutoencoderTiny", **config}))
    save_file(model.state_dict(), str(folder / "diffusion_pytorch_model.safetensors"))
    loaded = load_tiny_decoder(tmp_path)
    frames = decode_all(loaded, torch.randn(3, 4, 8, 8), chunk_size=2)
    assert frames.shape == (3, 16, 16, 3) and torch.isfinite(frames).all()


def test_missing_tiny_autoencoder_says_where_to_get_it(tmp_path):
    with pytest.raises(WeightsError, match="madebyollin/taesd"):
        load_tiny_decoder(tmp_path)
