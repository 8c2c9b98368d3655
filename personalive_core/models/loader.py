"""The one loader of PersonaLive networks: any description of `models.catalog`, from the weights folder.

Each network is built empty on the meta device from its config, then every tensor is read once from
the last file that has it and converted straight onto the target device and dtype (no second copy of
the weights is ever held). Keys that no file provides are reported instead of silently keeping
random values; only the ones its description calls harmless are tolerated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsError
from ..weights import LoadReport, load_into, load_state_dict_file, locate
from ..weights.checked_load import StateView
from .catalog import NETWORKS, NetworkSpec, read_config

SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@dataclass
class NetworkFiles:
    """A network's config and files under one weights folder; tensors are read only when used."""

    spec: NetworkSpec
    root: Path
    paths: dict[str, Path]  # official file key -> path found
    config: dict | None
    states: dict[str, Mapping[str, torch.Tensor]]  # file key -> tensors, renamed as described

    def sources(self) -> list[tuple[str, Mapping[str, torch.Tensor]]]:
        """The files as `load_into` sources, each key kept only in the last file that has it.

        Same result as loading them one after the other (later files override earlier ones), but
        every tensor is converted and copied once, and overridden tensors are never read.
        """
        later: set[str] = set()
        sources = []
        for key in reversed(self.spec.files):
            state = self.states[key]
            kept = StateView(state, {k: k for k in state if k not in later})
            later.update(state)
            sources.append((self._label(key), kept))
        return sources[::-1]

    def check_fit(self) -> None:
        """Raise `WeightsError` if these files do not fit the networks they work with."""
        problem = self.spec.check and self.spec.check(self.config, self.states, self.paths)
        if problem:
            raise WeightsError(problem)

    def _label(self, key: str) -> str:
        path = self.paths[key]
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)


def open_network(name: str, root: str | Path) -> NetworkFiles:
    """Find and open the files of network `name` under the weights folder `root`."""
    spec = NETWORKS[name]
    root = Path(root).expanduser()
    paths = locate(root, [*spec.files, *([spec.config] if spec.config else [])])
    config = read_config(paths[spec.config]) if spec.config else None
    states = {}
    for key in spec.files:
        state = load_state_dict_file(paths[key])
        states[key] = spec.rename(state) if spec.rename else state
    return NetworkFiles(spec, root, paths, config, states)


def check_fits(root: str | Path) -> None:
    """Raise `WeightsError` if the files of two networks under `root` do not work together."""
    for spec in NETWORKS.values():
        if spec.check is not None:
            open_network(spec.name, root).check_fit()


def load_network(
    name: str, root: str | Path, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> tuple[nn.Module, LoadReport]:
    """Network `name` of `models.catalog.NETWORKS` from the weights folder `root`, in `dtype` on
    `device`, in eval mode without gradients, and what loading it reported.

    Raises `WeightsError` naming a missing file, listing the keys of a file that does not fit, or
    saying which files do not fit together.
    """
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"unsupported dtype {dtype}; use one of {SUPPORTED_DTYPES}")
    device = torch.device(device)
    files = open_network(name, root)
    files.check_fit()
    spec = files.spec
    # nn.Module.to, not diffusers' ModelMixin.to, which warns on every dtype cast of an empty model.
    model = nn.Module.to(spec.empty(files.config), dtype)
    report = load_into(
        model, files.sources(), model=spec.label, device=device,
        tolerate_missing=[t.pattern for t in spec.missing_ok],
        tolerate_unexpected=[t.pattern for t in spec.unexpected_ok],
    )
    if spec.finish is not None:
        spec.finish(model, device, dtype)
    _assert_materialised(model, spec.label)
    nn.Module.to(model, device)  # values the constructor computed (never in a file) follow the rest
    return model.eval().requires_grad_(False), report


def _assert_materialised(module: nn.Module, label: str) -> None:
    """Raise if any parameter or buffer is still on the meta device (was never filled)."""
    left = [name for name, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if left:
        raise WeightsError(f"{label}: {len(left)} tensor(s) were never filled, e.g. {', '.join(left[:3])}")
