"""Golden parity of CLIP, VAE, the reference UNet and the denoising UNet on tiny128_seed1234.

Each stage is fed the inputs the original code recorded, so a deviation is pinned to one stage.
Tolerance: relative max error (max abs error / max abs recorded value) <= 1e-4 per tensor.
"""

from __future__ import annotations

import pytest
import torch

from personalive_core.models import load_network
from personalive_core.parity import compare_exact, compare_tensors, format_table

REL_TOL = 1e-4
READER = "bank.reader(denoising_unet,as_used)"
WRITER = "bank.writer(reference_unet,fp32)"
KEYFRAME_CALLS = ("call_09", "call_10", "call_11")


def _report(results):
    print("\n" + format_table(results))
    bad = [r.line() for r in results if not r.ok]
    assert not bad, "\n".join(bad)


@pytest.fixture(scope="module", autouse=True)
def _two_threads():
    """The fixture was recorded with 2 CPU threads; the thread count changes reduction order."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def reference_unet(tiny_weights):
    return load_network("reference_unet", tiny_weights)[0]


@pytest.fixture(scope="module")
def denoising_unet(tiny_weights):
    return load_network("denoising_unet", tiny_weights)[0]


def _unet_inputs(rec):
    return (rec["unet.in.sample"], rec["unet.in.timesteps"], rec["unet.in.clip_embeds"],
            rec["unet.in.motion_hidden_states"], rec["unet.in.pose_cond_fea"])


def _reader_bank(golden):
    return {block: tensors[0] for block, tensors in golden.load("fuse_reference")[READER].items()}


def _fp16_interval_target(actual: torch.Tensor, recorded_fp16: torch.Tensor) -> torch.Tensor:
    """The value nearest to `actual` among all values that round to `recorded_fp16`.

    A float16 recording stands for every float32 value of its rounding interval; comparing
    against the nearest of them measures the error of `actual` against what the original computed
    before it rounded, without counting the float16 quantisation itself.
    """
    e16 = recorded_fp16.to(torch.float16)
    bits = e16.view(torch.int16).to(torch.int32)
    up = torch.where(e16 >= 0, bits + 1, bits - 1)  # magnitude +1 ulp, same sign
    down = torch.where(e16 > 0, bits - 1, torch.where(e16 < 0, bits + 1, bits - 32767))  # toward zero / below 0
    nxt = up.to(torch.int16).view(torch.float16).double()
    prv = down.to(torch.int16).view(torch.float16).double()
    e = e16.double()
    bound_a, bound_b = (e + nxt) / 2, (e + prv) / 2
    lo, hi = torch.minimum(bound_a, bound_b), torch.maximum(bound_a, bound_b)
    return actual.double().clamp(lo, hi)


def test_clip_and_vae(golden, tiny_weights):
    from personalive_core.models.image_encoder import clip_pixel_values, encode_clip
    from personalive_core.models.vae import decode_latents, encode_latents, vae_pixels

    fuse, image = golden.load("fuse_reference"), golden.reference_image()
    size = fuse["state.ref_image_tensor"].shape[-1]
    encoder, _ = load_network("image_encoder", tiny_weights)
    vae, _ = load_network("vae", tiny_weights)
    pixel_values = clip_pixel_values(image)
    pixels = vae_pixels(image, size)
    assert pixels.stride() == fuse["vae.encode.in"].stride(), "VAE input must keep the channels-last strides"
    results = [
        compare_exact("fuse clip.pixel_values", pixel_values, fuse["clip.pixel_values"]),
        compare_tensors("fuse clip.image_embeds", encode_clip(encoder, fuse["clip.pixel_values"])[:, 0],
                        fuse["clip.image_embeds"], REL_TOL),
        compare_exact("fuse vae.encode.in", pixels, fuse["vae.encode.in"]),
        compare_tensors("fuse reference latents (x0.18215)", encode_latents(vae, fuse["vae.encode.in"]),
                        fuse["reference_unet.in.sample"], REL_TOL),
    ]
    call = golden.load("call_00")
    finished = call["scheduler.step(prev_sample,pred_original_sample)"][1][0:4]
    results.append(compare_tensors("call_00 vae.decode.out", decode_latents(vae, finished),
                                   call["vae.decode.out"], REL_TOL))
    _report(results)


def test_reference_features(golden, reference_unet):
    from personalive_core.models.unet3d.reference_attention import round_like_original

    fuse = golden.load("fuse_reference")
    features = reference_unet.write_features(fuse["reference_unet.in.sample"],
                                             fuse["reference_unet.in.encoder_hidden_states"])
    writer = {block: tensors[0] for block, tensors in fuse[WRITER].items()}
    assert list(features) == list(writer)
    results = [compare_tensors(f"fuse bank {block}", features[block], want, REL_TOL) for block, want in writer.items()]
    # The fp16 rounding the original applies to the recorded fp32 features gives exactly what it used.
    rounded = round_like_original(writer)
    results += [compare_exact(f"fuse bank as used (fp16) {block}", rounded[block], want)
                for block, want in _reader_bank(golden).items()]
    _report(results)


@pytest.mark.parametrize("call", KEYFRAME_CALLS)
def test_keyframe_features(golden, reference_unet, call):
    """Features written for a history keyframe; recorded only after the fp16 rounding."""
    rec, fuse = golden.load(call), golden.load("fuse_reference")
    assert torch.equal(rec["reference_unet.in.encoder_hidden_states"], fuse["state.encoder_hidden_states"])
    features = reference_unet.write_features(rec["reference_unet.in.sample"],
                                             rec["reference_unet.in.encoder_hidden_states"])
    results = []
    for block, want in rec["bank.kv_bank_added(reader)"].items():
        target = _fp16_interval_target(features[block], want)
        results.append(compare_tensors(f"{call} keyframe bank {block}", features[block], target, REL_TOL))
    _report(results)


def test_first_unet_call(golden, denoising_unet):
    from personalive_core.models.unet3d import ReferenceAttention

    rec = golden.load("first_unet_call")
    reference = ReferenceAttention.from_features(denoising_unet, _reader_bank(golden))
    eps = denoising_unet(*_unet_inputs(rec), reference)
    _report([compare_tensors("first_unet_call unet.out.noise_pred", eps, rec["unet.out.noise_pred"], REL_TOL)])


def test_unet_call_with_keyframes(golden, denoising_unet):
    """call_15 attends to the reference bank plus the keyframes added at calls 9, 10 and 11."""
    from personalive_core.models.unet3d import ReferenceAttention

    rec = golden.load("call_15")
    assert rec["_num_khf_before"] == 3
    reference = ReferenceAttention.from_features(denoising_unet, _reader_bank(golden))
    for call in KEYFRAME_CALLS:
        reference.add_keyframe(golden.load(call)["bank.kv_bank_added(reader)"])
    assert reference.num_keyframes == 3
    eps = denoising_unet(*_unet_inputs(rec), reference)
    _report([compare_tensors("call_15 unet.out.noise_pred (3 keyframes)", eps, rec["unet.out.noise_pred"], REL_TOL)])


# The parity gates above are sharp: each of these deliberate mistakes breaks them.


def _first_call_error(golden, unet, reference) -> float:
    rec = golden.load("first_unet_call")
    return compare_tensors("", unet(*_unet_inputs(rec), reference), rec["unet.out.noise_pred"], REL_TOL).rel


def test_parity_needs_the_fp16_rounding(golden, denoising_unet):
    from personalive_core.models.unet3d import ReferenceAttention

    writer = {block: tensors[0] for block, tensors in golden.load("fuse_reference")[WRITER].items()}
    unrounded = ReferenceAttention(denoising_unet, denoising_unet.reference_keys_values(writer))
    assert _first_call_error(golden, denoising_unet, unrounded) > REL_TOL


def test_parity_needs_motion_before_temporal(golden, denoising_unet, monkeypatch):
    from personalive_core.models.unet3d import ReferenceAttention, blocks

    def temporal_first(block, i, x, cond):
        if block.attentions is not None:
            x = block.attentions[i](x, cond.clip, cond.reference)
        x = block.temporal_modules[i](x, cond.num_frames)
        return block.motion_modules[i](x, cond.motion)

    monkeypatch.setattr(blocks, "_run_layer", temporal_first)
    reference = ReferenceAttention.from_features(denoising_unet, _reader_bank(golden))
    assert _first_call_error(golden, denoising_unet, reference) > 100 * REL_TOL


@pytest.mark.parametrize("first, second", [
    ("up_blocks.3.motion_modules.0.temporal_transformer.proj_out.weight",
     "up_blocks.3.motion_modules.1.temporal_transformer.proj_out.weight"),
    ("mid_block.attentions.0.transformer_blocks.0.attn1.to_k.weight",
     "mid_block.attentions.0.transformer_blocks.0.attn1.to_v.weight"),
])
def test_parity_needs_every_weight_in_place(golden, denoising_unet, first, second):
    from personalive_core.models.unet3d import ReferenceAttention

    state = denoising_unet.state_dict()
    a, b = state[first], state[second]
    saved = a.clone()
    try:
        a.copy_(b)
        b.copy_(saved)
        reference = ReferenceAttention.from_features(denoising_unet, _reader_bank(golden))
        assert _first_call_error(golden, denoising_unet, reference) > 100 * REL_TOL
    finally:
        b.copy_(a)
        a.copy_(saved)
