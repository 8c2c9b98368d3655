"""A stand-in for `personalive_core.api` with the facade's signatures and output shapes, for testing the
nodes' own logic (validation, progress, interrupts, model handling) in milliseconds. The real facade is
exercised by test_nodes_real_core.py and the server tests."""

from __future__ import annotations

import types
from dataclasses import dataclass
from pathlib import Path

import torch

from personalive_core.errors import InputError, PersonaLiveError, WeightsError

LEAD_IN_FRAMES = 12
WINDOW = 4


class Interrupted(PersonaLiveError):
    pass


@dataclass(frozen=True)
class FakeFile:
    relpath: str
    repo_id: str
    repo_path: str

    @property
    def url(self):
        return f"https://huggingface.co/{self.repo_id}/blob/main/{self.repo_path}"


FILES = (
    FakeFile(
        "personalive/denoising_unet.pth", "huaichang/PersonaLive", "pretrained_weights/personalive/denoising_unet.pth"
    ),
    FakeFile("sd-vae-ft-mse/config.json", "stabilityai/sd-vae-ft-mse", "config.json"),
)


class FakeModels:
    def __init__(self, root, dtype):
        self.root, self.dtype_name = Path(root), dtype
        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype, torch.float32)
        self._modules = {"pose_guider": torch.nn.Linear(2, 2), "vae": torch.nn.Linear(2, 2)}

    def modules(self):
        return dict(self._modules)

    @property
    def device(self):
        return next(self._modules["pose_guider"].parameters()).device

    def to(self, device):
        for m in self._modules.values():
            m.to(device)
        return self


class _Result(types.SimpleNamespace):
    """A stand-in core result; `.to(device)` records the move like the real results support it."""

    def to(self, device):
        self.device = device
        return self


def make_api(calls: list) -> types.ModuleType:
    api = types.ModuleType("personalive_core.api")
    api.LEAD_IN_FRAMES = LEAD_IN_FRAMES
    api.Interrupted = Interrupted

    def missing_files(root):
        return [f for f in FILES if not (Path(root) / f.relpath).is_file()]

    def load_models(root, dtype="auto", device="cpu"):
        calls.append(("load_models", str(root), dtype, str(device)))
        if missing_files(root):
            raise WeightsError(f"missing files under {root}")
        return FakeModels(root, dtype).to(device)

    def extract_keypoints(models, reference, driving, crop_method="keypoints", size=512):
        calls.append(("extract_keypoints", tuple(reference.shape), tuple(driving.shape), crop_method, size))
        return _Result(num_frames=driving.shape[0], size=size)

    def render_pose_maps(kps, include_lead_in=True):
        n = kps.num_frames + (LEAD_IN_FRAMES if include_lead_in else 0)
        return torch.full((n, kps.size, kps.size, 3), 0.5)

    def encode_reference(models, reference, size=512):
        calls.append(("encode_reference", tuple(reference.shape), size))
        if reference.shape[0] != 1:
            raise InputError("one reference image")
        return _Result(size=size)

    def encode_motion(models, reference, driving, kps):
        calls.append(("encode_motion", tuple(driving.shape)))
        return _Result(num_frames=driving.shape[0])

    def sample(models, ref, pose_maps, motion, seed, include_lead_in=False, on_window=None, should_stop=None):
        calls.append(("sample", tuple(pose_maps.shape), seed, include_lead_in))
        h, w = pose_maps.shape[1] // 8, pose_maps.shape[2] // 8
        frames = motion.num_frames + (LEAD_IN_FRAMES if include_lead_in else 0)
        total = -(-motion.num_frames // WINDOW)
        out = []
        g = torch.Generator().manual_seed(seed)
        for i in range(total):
            if should_stop is not None and should_stop():
                raise Interrupted("stopped")
            chunk = torch.randn(WINDOW, 4, h, w, generator=g)
            out.append(chunk)
            if on_window is not None:
                on_window(i + 1, total, chunk)
        latents = torch.cat(out)[: motion.num_frames]
        if include_lead_in:
            latents = torch.cat([torch.zeros(LEAD_IN_FRAMES, 4, h, w), latents])
        assert latents.shape[0] == frames
        return latents

    def decode_latents(models, latents, chunk_size=8, use_tiny=False):
        calls.append(("decode_latents", tuple(latents.shape), chunk_size, use_tiny))
        if use_tiny:
            raise PersonaLiveError("tiny autoencoder not available: put taesd_decoder.safetensors in ...")
        f, _, h, w = latents.shape
        return torch.sigmoid(latents[:, :3]).permute(0, 2, 3, 1).repeat_interleave(8, 1).repeat_interleave(8, 2)

    for fn in (
        missing_files,
        load_models,
        extract_keypoints,
        render_pose_maps,
        encode_reference,
        encode_motion,
        sample,
        decode_latents,
    ):
        setattr(api, fn.__name__, fn)
    return api


def write_fake_weights(root: Path) -> Path:
    for f in FILES:
        (root / f.relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / f.relpath).write_bytes(b"x")
    return root
