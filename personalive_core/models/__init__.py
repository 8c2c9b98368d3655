"""The PersonaLive networks, one per module, and how they are loaded.

`catalog.NETWORKS` describes every network (files, config, empty build, harmless keys, fix-ups);
`loader.load_network` loads any of them from the weights folder.
"""

from .catalog import NETWORKS, NetworkSpec, Tolerated
from .loader import load_network

__all__ = ["NETWORKS", "NetworkSpec", "Tolerated", "load_network"]
