"""Where the networks needed only at the start of a stream wait while it runs (the `low_vram` option).

CLIP's image encoder, the VAE's encoder and the reference UNet run for the reference step and, for the
reference UNet, once per history keyframe (at most three per stream). With `low_vram` they wait on the
offload device (the CPU) and come to the compute device only for those calls, so a running stream
holds only the per-window networks there. Moving weights does not change them: the frames are
bit-identical to the normal mode. On a CPU-only machine both devices are the CPU and nothing moves.
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from typing import Iterator

import torch

START_NETWORKS = ("image_encoder", "vae.encoder", "vae.quant_conv", "reference_unet")
KEYFRAME_NETWORKS = ("reference_unet",)
# networks needed only at the start as a whole (the VAE's decoder runs every window, so not "vae")
START_ONLY_NETWORKS = tuple(name for name in START_NETWORKS if "." not in name)


class AllResident:
    """The default: every network stays on the compute device."""

    offload_device = None

    def park(self, models) -> None:
        """Nothing to move."""

    @contextmanager
    def borrow(self, models, names: tuple[str, ...]) -> Iterator[None]:
        yield


class LowVram(AllResident):
    """The start-only networks wait on `offload_device` and are borrowed onto the compute device."""

    def __init__(self, offload_device: str | torch.device = "cpu"):
        self.offload_device = torch.device(offload_device)

    def park(self, models) -> None:
        """Move every start-only network to the offload device."""
        for name in START_NETWORKS:
            self._move(models, name, to_compute=False)

    @contextmanager
    def borrow(self, models, names: tuple[str, ...]) -> Iterator[None]:
        """Bring `names` (paths such as 'vae.encoder') to the compute device for the block, then park them."""
        for name in names:
            self._move(models, name, to_compute=True)
        try:
            yield
        finally:
            for name in names:
                self._move(models, name, to_compute=False)

    def _move(self, models, name: str, to_compute: bool) -> None:
        """To the compute device (the per-window networks' device) or to the offload device."""
        operator.attrgetter(name)(models).to(models.device if to_compute else self.offload_device)

