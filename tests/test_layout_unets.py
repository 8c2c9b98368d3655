"""The UNets, CLIP and VAE have exactly the official checkpoints' keys and shapes at full size
(built on the meta device: nothing is allocated), and the fixture files load without gaps."""

from __future__ import annotations


import pytest
import torch

from personalive_core.models import NETWORKS, load_network
from personalive_core.models.reference_unet import build_reference_unet
from personalive_core.models.unet3d import build_denoising_unet

from helpers import manifest_layout, state_layout

# lambdalabs/sd-image-variations-diffusers unet/config.json (the SD1 UNet with cross dim 768).
SD1_UNET_CONFIG = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}


def _check_layout(module, manifest, file_key, ordered=True):
    expected = manifest_layout(manifest, file_key)
    actual = state_layout(module)
    assert sorted(set(actual) - set(expected)) == [], "keys the checkpoint does not have"
    assert sorted(set(expected) - set(actual)) == [], "checkpoint keys the model lacks"
    wrong = {k: (actual[k], expected[k]) for k in expected if actual[k] != expected[k]}
    assert not wrong, f"wrong shapes: {list(wrong.items())[:5]}"
    if ordered:
        assert list(actual) == list(expected), "same keys, different order"


def test_reference_unet_layout(manifest):
    model = build_reference_unet(SD1_UNET_CONFIG)
    _check_layout(model, manifest, "reference_unet.pth")
    assert len(model.feature_blocks()) == 16


def test_denoising_unet_layout(manifest):
    model = build_denoising_unet(SD1_UNET_CONFIG)
    _check_layout(model, manifest, "denoising_unet.pth")
    assert len(model.reference_blocks()) == 16
    # Every key of the 2D base exists in the 3D model with the same shape (loaded non-strictly upstream).
    base = manifest_layout(manifest, "sd-image-variations-diffusers/unet")
    layout = state_layout(model)
    assert all(layout.get(k) == shape for k, shape in base.items())


def test_reference_and_denoising_blocks_pair_by_path():
    """The writer block of a path feeds the reader block of the same path (widths must agree)."""
    writer = build_reference_unet(SD1_UNET_CONFIG).feature_blocks()
    reader = build_denoising_unet(SD1_UNET_CONFIG).reference_blocks()
    assert list(writer) == list(reader)
    for name in writer:
        assert writer[name].norm1.normalized_shape == reader[name].norm1.normalized_shape


def test_image_encoder_and_vae_layout(manifest):
    clip_config = {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 24,
                   "patch_size": 14, "image_size": 224, "projection_dim": 768, "hidden_act": "quick_gelu"}
    vae_config = {"block_out_channels": [128, 256, 512, 512], "layers_per_block": 2, "latent_channels": 4,
                  "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4,
                  "sample_size": 256}
    clip = NETWORKS["image_encoder"].empty(clip_config)
    vae = NETWORKS["vae"].empty(vae_config)
    _check_layout(clip, manifest, "sd-image-variations-diffusers/image_encoder", ordered=False)
    _check_layout(vae, manifest, "sd-vae-ft-mse", ordered=False)


def test_catalog_builds_the_unets_of_the_manifest(manifest):
    assert NETWORKS["reference_unet"].layout(SD1_UNET_CONFIG) == manifest_layout(manifest, "reference_unet.pth")
    assert NETWORKS["denoising_unet"].layout(SD1_UNET_CONFIG) == manifest_layout(manifest, "denoising_unet.pth")


def test_fixture_files_load_completely(tiny_weights):
    expected = {"reference UNet": 682, "denoising UNet": 1820, "CLIP image encoder": 40, "VAE": 248}
    for name in ("reference_unet", "denoising_unet", "image_encoder", "vae"):
        model, report = load_network(name, tiny_weights)
        print(report.summary())
        assert report.ok and not report.tolerated_missing and not report.tolerated_unexpected
        assert report.loaded == expected[report.model]
        assert all(not t.is_meta for t in model.state_dict().values())


def test_position_tables_are_computed_when_absent(tiny_weights, tmp_path, golden):
    """A temporal_module.pth without `pos_encoder.pe` gets the constructor's table (spec §3.5.7)."""
    from safetensors.torch import load_file

    from personalive_core.models.unet3d.temporal_module import sinusoidal_table

    # Same recipe as the recorded tables, but exp/sin/cos may differ in the last bit between CPUs
    # (vectorised libm): one ulp in a frequency grows up to 31-fold at position 31.
    overrides = load_file(str(golden.dir / "overrides.safetensors"))
    for key, value in overrides.items():
        if key.endswith("pos_encoder.pe"):
            torch.testing.assert_close(sinusoidal_table(32, value.shape[-1]), value, rtol=0, atol=2e-6)

    root = tmp_path / "weights"
    (root / "personalive").mkdir(parents=True)
    for sub in ("sd-image-variations-diffusers", "sd-vae-ft-mse"):
        (root / sub).symlink_to(tiny_weights / sub)
    for f in (tiny_weights / "personalive").iterdir():
        (root / "personalive" / f.name).symlink_to(f)
    temporal = torch.load(tiny_weights / "personalive" / "temporal_module.pth", weights_only=True)
    (root / "personalive" / "temporal_module.pth").unlink()
    torch.save({k: v for k, v in temporal.items() if not k.endswith("pos_encoder.pe")},
               root / "personalive" / "temporal_module.pth")

    model, report = load_network("denoising_unet", root)
    assert report.ok and len(report.tolerated_missing) == 42
    state = model.state_dict()
    for key, value in temporal.items():
        if key.endswith("pos_encoder.pe"):
            assert torch.equal(state[key], sinusoidal_table(32, value.shape[-1])), key


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_models_load_in_dtype(tiny_weights, dtype):
    for name in ("reference_unet", "denoising_unet"):
        model, _ = load_network(name, tiny_weights, dtype=dtype)
        assert {t.dtype for t in model.state_dict().values()} == {dtype}


def test_safetensors_files_are_accepted(tiny_weights, tmp_path):
    """The official folders may hold .safetensors instead of .bin; both load the same values."""
    from safetensors.torch import save_file

    root = tmp_path / "weights"
    for sub, name in (("sd-image-variations-diffusers/image_encoder", "pytorch_model"),
                      ("sd-vae-ft-mse", "diffusion_pytorch_model")):
        (root / sub).mkdir(parents=True)
        (root / sub / "config.json").symlink_to(tiny_weights / sub / "config.json")
        state = torch.load(tiny_weights / sub / f"{name}.bin", weights_only=True)
        save_file({k: v.contiguous() for k, v in state.items()}, str(root / sub / f"{name}.safetensors"))
    for name in ("image_encoder", "vae"):
        from_bin, _ = load_network(name, tiny_weights)
        from_safetensors, report = load_network(name, root)
        assert report.ok
        expected = from_bin.state_dict()
        assert all(torch.equal(v, expected[k]) for k, v in from_safetensors.state_dict().items())


def test_legacy_vae_attention_names_are_renamed(tiny_weights, tmp_path):
    """sd-vae-ft-mse stores the mid-block attention as `query/key/value/proj_attn` 1x1 convolutions."""
    from safetensors.torch import save_file

    from personalive_core.weights.inspect import inspect_weights

    legacy = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    root = tmp_path / "weights"
    (root / "sd-vae-ft-mse").mkdir(parents=True)
    (root / "sd-vae-ft-mse" / "config.json").symlink_to(tiny_weights / "sd-vae-ft-mse" / "config.json")
    state = torch.load(tiny_weights / "sd-vae-ft-mse" / "diffusion_pytorch_model.bin", weights_only=True)
    old = {}
    for key, value in state.items():
        for new, name in legacy.items():
            if f".attentions.0.{new}." in key:
                key, value = key.replace(f".{new}.", f".{name}."), value[..., None, None] if value.ndim == 2 else value
        old[key] = value.contiguous()
    assert any(".attentions.0.query.weight" in k for k in old)
    save_file(old, str(root / "sd-vae-ft-mse" / "diffusion_pytorch_model.safetensors"))
    expected, _ = load_network("vae", tiny_weights)
    renamed, report = load_network("vae", root)
    assert report.ok and report.loaded == 248
    assert all(torch.equal(v, expected.state_dict()[k]) for k, v in renamed.state_dict().items())
    status = {s.spec.key: s for s in inspect_weights(root, NETWORKS.values())}["vae"]
    assert status.loadable and status.matched == 248 and not status.unexpected
