"""`torch.compile` of the networks a stream calls in every window (the `compile` speed mode).

Every streaming call has the same shapes, so each network compiles once (`dynamic=False`) and the
compiled code is reused for the rest of the stream. On CUDA the compiled code also replays CUDA graphs
(`mode="reduce-overhead"`), which removes the per-kernel launch cost; each call then starts a new graph
step and its outputs are copied out, so the stream may keep them across calls.

Compiling replaces a module's `forward` on the instance (the module, its weights and its hooks stay as
they are); `uncompile` restores it. The first call of each network pays the compile time.
PERSONALIVE_COMPILE_BACKEND overrides torch.compile's backend (the tests set 'aot_eager': the same graph
capture without code generation, which takes minutes on a small CPU).
"""

from __future__ import annotations

import os

import torch
from torch import nn

STREAM_NETWORKS = ("denoising_unet", "motion_encoder", "motion_extractor", "pose_guider")


class CompiledForward:
    """A module's forward, compiled; on CUDA graphs, each call is a new step and its outputs are cloned."""

    def __init__(self, forward, device_type: str, backend: str | None = None):
        backend = backend or os.environ.get("PERSONALIVE_COMPILE_BACKEND") or "inductor"
        self.eager = forward
        self.cuda_graphs = device_type == "cuda" and backend == "inductor"
        mode = "reduce-overhead" if self.cuda_graphs else None
        self.compiled = torch.compile(forward, mode=mode, dynamic=False, backend=backend)

    def __call__(self, *args, **kwargs):
        if not self.cuda_graphs:
            return self.compiled(*args, **kwargs)
        torch.compiler.cudagraph_mark_step_begin()
        return _cloned(self.compiled(*args, **kwargs))


def _cloned(out):
    if isinstance(out, torch.Tensor):
        return out.clone()
    if isinstance(out, (tuple, list)):
        return type(out)(_cloned(o) for o in out)
    if isinstance(out, dict):
        return {k: _cloned(v) for k, v in out.items()}
    return out


def is_compiled(module: nn.Module) -> bool:
    return isinstance(module.__dict__.get("forward"), CompiledForward)


def compile_module(module: nn.Module, device_type: str, backend: str | None = None) -> None:
    """Compile `module.forward` in place for `device_type` ('cpu', 'cuda', ...); a no-op if already compiled.
    `backend` is torch.compile's (the tests use 'aot_eager': the same graph capture, no code generation)."""
    if not is_compiled(module):
        module.forward = CompiledForward(module.forward, device_type, backend)


def uncompile(module: nn.Module) -> None:
    """Back to the eager forward."""
    if is_compiled(module):
        del module.forward


def compile_for_streaming(models, decoder: nn.Module | None = None, backend: str | None = None) -> None:
    """Compile the networks every window calls (denoising UNet, motion encoder and extractor, pose
    guider) and, given, the decoder's convolutional part (`decoder.decoder` of the VAE or of TAESD).
    The reference step's networks (CLIP, VAE encoder, reference UNet) run once and stay eager."""
    device_type = models.device.type
    for name in STREAM_NETWORKS:
        compile_module(getattr(models, name), device_type, backend)
    if decoder is not None:
        compile_module(decoder.decoder, device_type, backend)
