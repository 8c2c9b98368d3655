"""Where the streaming session's Gaussian noise comes from: a seeded generator or recorded tensors."""

from __future__ import annotations

from typing import Iterable, Protocol

import torch


class NoiseSource(Protocol):
    def draw(self, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor: ...


class SeededNoise:
    """Noise from a CPU generator seeded once: identical output for a seed on every device."""

    def __init__(self, seed: int):
        self.generator = torch.Generator("cpu").manual_seed(int(seed))

    def draw(self, shape, dtype, device):
        return torch.randn(shape, generator=self.generator, dtype=torch.float32).to(device=device, dtype=dtype)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


class RecordedNoise:
    """Replays given tensors in order (to reproduce a recorded run); then draws from `then`, or
    fails when the recording runs out and there is no `then`."""

    def __init__(self, tensors: Iterable[torch.Tensor], then: NoiseSource | None = None):
        self._tensors = iter(tensors)
        self._then = then

    def draw(self, shape, dtype, device):
        try:
            noise = next(self._tensors)
        except StopIteration:
            if self._then is not None:
                return self._then.draw(shape, dtype, device)
            raise RuntimeError("the recorded noise ran out: more draws than the recording holds") from None
        if tuple(noise.shape) != tuple(shape):
            raise RuntimeError(f"recorded noise has shape {tuple(noise.shape)}, the session asked for {tuple(shape)}")
        return noise.to(device=device, dtype=dtype)
