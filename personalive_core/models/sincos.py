"""Fixed sine/cosine position tables, computed in float64 with numpy and rounded to float32 once.

The recipe (and therefore every rounding) is the one of diffusers 0.27's `get_1d/2d_sincos_pos_embed`,
which the original motion encoder uses; newer diffusers compute the 2-D table differently.
"""

from __future__ import annotations

import numpy as np
import torch


def _sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    """(len(positions), dim) float64: sin(pos * w_k) for the first half, cos for the second."""
    omega = np.arange(dim // 2, dtype=np.float64)
    omega /= dim / 2.0
    omega = 1.0 / 10000**omega
    angles = positions.reshape(-1)[:, None] * omega[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def sincos_table_1d(dim: int, length: int) -> torch.Tensor:
    """(length, dim) float32 table for positions 0..length-1."""
    return torch.from_numpy(_sincos_1d(dim, np.arange(length))).float()


def sincos_table_2d(dim: int, grid_size: int) -> torch.Tensor:
    """(grid_size**2, dim) float32 table for a square token grid in row-major order.

    Token (row, col) gets `[1-D table(col) | 1-D table(row)]`, each half `dim/2` wide.
    """
    coords = np.arange(grid_size, dtype=np.float32)
    cols, rows = np.meshgrid(coords, coords)  # cols[r, c] = c, rows[r, c] = r
    table = np.concatenate([_sincos_1d(dim // 2, cols), _sincos_1d(dim // 2, rows)], axis=1)
    return torch.from_numpy(table).float()
