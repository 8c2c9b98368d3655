"""The nodes running on the real core (tiny random weights, 64 px, a few frames) against the fake ComfyUI
modules of fakes.py: outputs, progress per window or chunk, previews, Cancel, the tiny decoder's cache."""

from __future__ import annotations

import copy
import json
import sys

import pytest
import torch

from personalive_core import decoding
from personalive_core.errors import InputError, WeightsError

from .conftest import GRAPH_FRAMES as N, img, node


def test_extract_and_render(pack, graph):
    assert graph.kps.num_frames == N and graph.motion.num_frames == N and graph.ref.size == 64
    assert graph.maps.shape == (12 + N, 64, 64, 3) and graph.maps.dtype == torch.float32
    assert 0 <= graph.maps.min() and graph.maps.max() <= 1
    assert node(pack, "RenderPoseMap").execute(graph.kps, False)[0].shape[0] == N
    assert torch.equal(node(pack, "RenderPoseMap").execute(graph.kps, False)[0], graph.maps[12:])


def test_sampler_outputs_one_latent_per_driving_frame_with_progress(pack, graph, rec):
    sample = node(pack, "PersonaLiveSampler4Step").execute
    latent = sample(graph.models, graph.ref, graph.maps, graph.motion, 7, False, True)[0]
    assert set(latent) == {"samples"} and latent["samples"].shape == (N, 4, 8, 8)
    assert [p[:2] for p in rec.progress] == [(1, 1), (1, 1)]  # per 4-frame window, then done
    assert rec.progress[0][2][0] == "JPEG"  # a live preview
    assert rec.loads  # the models were loaded through comfy.model_management
    rec.reset()
    lead = sample(graph.models, graph.ref, graph.maps, graph.motion, 7, True, False)[0]["samples"]
    assert lead.shape[0] == 12 + N and [p[:2] for p in rec.progress] == [(1, 4), (2, 4), (3, 4), (4, 4), (4, 4)]
    assert rec.progress[-1][2] is None  # preview off
    torch.testing.assert_close(lead[12:], latent["samples"])  # the same seed gives the same animation


def test_sampler_is_interruptible_between_windows(pack, graph, rec):
    mm = sys.modules["comfy.model_management"]
    rec.interrupt_after_checks = 2  # the user presses Cancel during the first window
    with pytest.raises(mm.InterruptProcessingException):
        node(pack, "PersonaLiveSampler4Step").execute(graph.models, graph.ref, graph.maps, graph.motion, 0, True, False)
    assert len(rec.progress) == 1  # stopped after the first of four windows (3 of them lead-in)


def test_chunked_decode(pack, graph, rec):
    decode = node(pack, "ChunkedVAEDecode").execute
    latents = torch.randn(10, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    images = decode(graph.models, {"samples": latents}, 4, False)[0]
    assert images.shape == (10, 64, 64, 3) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1
    assert [p[:2] for p in rec.progress] == [(4, 10), (8, 10), (10, 10)]
    torch.testing.assert_close(decode(graph.models, {"samples": latents}, 10, False)[0], images, atol=1e-5, rtol=0)
    video_latent = {"samples": latents[:3].movedim(0, 1)[None]}  # (B, C, T, H, W) from video models
    torch.testing.assert_close(decode(graph.models, video_latent, 8, False)[0], images[:3], atol=1e-5, rtol=0)
    with pytest.raises(InputError, match="^ChunkedVAEDecode: expected SD latents"):
        decode(graph.models, {"samples": torch.randn(2, 16, 8, 8)}, 8, False)
    with pytest.raises(InputError, match="^ChunkedVAEDecode: chunk_size must be at least 1"):
        decode(graph.models, {"samples": latents}, 0, False)


def test_decode_without_the_tiny_autoencoder_says_what_to_install(pack, graph, tmp_path):
    managed = sys.modules["ComfyUI-PersonaLive.nodes.managed"]
    models = copy.copy(graph.models.models)  # the same networks, a weights folder without taesd/
    models.root = tmp_path
    bundle = managed.PersonaLiveModelBundle(models, tmp_path, "fp32")
    with pytest.raises(WeightsError, match="^ChunkedVAEDecode: The tiny autoencoder is not installed.*madebyollin"):
        node(pack, "ChunkedVAEDecode").execute(bundle, {"samples": torch.randn(2, 4, 8, 8)}, 4, True)


def test_decode_is_interruptible_between_chunks(pack, graph, rec):
    mm = sys.modules["comfy.model_management"]
    rec.interrupt_after_checks = 3  # the user presses Cancel while the first chunk decodes
    with pytest.raises(mm.InterruptProcessingException):
        node(pack, "ChunkedVAEDecode").execute(graph.models, {"samples": torch.randn(12, 4, 8, 8)}, 2, False)
    assert [p[:2] for p in rec.progress] == [(2, 12)]  # stopped after the first of six chunks


def test_tiny_decoder_is_read_once_per_models_object(pack, graph, tmp_path, monkeypatch, rec):
    from diffusers import AutoencoderTiny
    from safetensors.torch import save_file

    config = dict(encoder_block_out_channels=[16, 16], decoder_block_out_channels=[16, 16],
                  num_encoder_blocks=[1, 1], num_decoder_blocks=[1, 1], latent_channels=4)
    (tmp_path / "taesd").mkdir()
    (tmp_path / "taesd" / "config.json").write_text(json.dumps({"_class_name": "AutoencoderTiny", **config}))
    save_file(AutoencoderTiny(**config).state_dict(), str(tmp_path / "taesd" / "diffusion_pytorch_model.safetensors"))
    loads = []
    real_load = decoding.load_tiny_decoder
    monkeypatch.setattr(decoding, "load_tiny_decoder", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    managed = sys.modules["ComfyUI-PersonaLive.nodes.managed"]
    models = copy.copy(graph.models.models)  # the same networks, another weights folder (with taesd/)
    models.root = tmp_path
    bundle = managed.PersonaLiveModelBundle(models, tmp_path, "fp32")
    decode = node(pack, "ChunkedVAEDecode").execute
    first = decode(bundle, {"samples": torch.randn(5, 4, 8, 8)}, 2, True)[0]
    assert first.shape == (5, 16, 16, 3) and [p[:2] for p in rec.progress] == [(2, 5), (4, 5), (5, 5)]
    decode(bundle, {"samples": torch.randn(3, 4, 8, 8)}, 2, True)
    assert len(loads) == 1  # not once per chunk, nor once per run


def test_sampler_compile_gives_the_same_latents(pack, graph, monkeypatch):
    """compile=True compiles the denoising UNet (graph capture with 'aot_eager' here: inductor's code
    generation takes minutes on 2 cores; bench/speed.py times it) and gives the eager latents."""
    from personalive_core import api, compiled

    monkeypatch.setattr(api, "compile_module", lambda module, device: compiled.compile_module(module, device,
                                                                                              "aot_eager"))
    sample = node(pack, "PersonaLiveSampler4Step").execute
    eager = sample(graph.models, graph.ref, graph.maps, graph.motion, 7, False, False)[0]["samples"]
    unet = graph.models.models.denoising_unet
    try:
        faster = sample(graph.models, graph.ref, graph.maps, graph.motion, 7, False, False, compile=True)[0]["samples"]
        assert compiled.is_compiled(unet)
    finally:
        compiled.uncompile(unet)
        torch._dynamo.reset()
    # Captured graphs reorder float sums: within the replay-golden tolerance for latents (1e-4 of their scale).
    torch.testing.assert_close(faster, eager, atol=1e-4 * eager.abs().max().item(), rtol=0)


@pytest.mark.parametrize("kernels", [None, "fast", "reference"])
def test_loader_kernels(pack, weights_dir, kernels):
    """The loader's optional `kernels` input (absent from older saved prompts: 'fast')."""
    from torch import nn

    from personalive_core.models.fast_linear import FastLinear

    extra = {} if kernels is None else {"kernels": kernels}
    bundle = node(pack, "LoadPersonaLiveModels").execute(weights_dir.name, "fp32", False, **extra)[0]
    layers = {type(m) for m in bundle.models.denoising_unet.modules() if isinstance(m, nn.Linear)}
    assert layers == ({nn.Linear} if kernels == "reference" else {FastLinear})


def test_loader_low_vram_keeps_the_start_networks_on_the_offload_device(pack, weights_dir, graph):
    from personalive_core.residency import LowVram

    mm = sys.modules["comfy.model_management"]
    bundle = node(pack, "LoadPersonaLiveModels").execute(weights_dir.name, "fp32", False, low_vram=True)[0]
    residency = bundle.models.residency
    assert isinstance(residency, LowVram) and residency.offload_device == torch.device(mm.unet_offload_device())
    reference = node(pack, "EncodeReference").execute(bundle, img(1, channels=4), 64)[0]  # as the `graph` fixture
    assert torch.equal(reference.latents, graph.ref.latents)  # the same reference as the normal mode
    assert all(torch.equal(reference.features[k], v) for k, v in graph.ref.features.items())
