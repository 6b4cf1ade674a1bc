"""Image grids of samples and reconstructions, written as PNG."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from torch import Tensor

from genbench.levels import levels_to_unit
from genbench.results.store import atomic_path


def tile(images: Tensor, num_levels: int, rows: int, pad: int = 1) -> np.ndarray:
    """(n, C, H, W) levels -> one (rows*(H+pad)+pad, cols*(W+pad)+pad[, 3]) array in [0, 1]."""
    n, c, h, w = images.shape
    cols = math.ceil(n / rows)
    x = levels_to_unit(images.detach().float().cpu().numpy(), num_levels)
    grid = np.full((c, rows * (h + pad) + pad, cols * (w + pad) + pad), 0.5, dtype=np.float32)
    for k in range(n):
        r, q = divmod(k, cols)
        grid[
            :,
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + q * (w + pad) : pad + q * (w + pad) + w,
        ] = x[k]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def save_grid(images: Tensor, num_levels: int, path: Path, rows: int) -> None:
    """Write images as a grid PNG, upscaled to about 48 pixels per image (dark ink on white)."""
    scale = max(1, 48 // images.shape[-1])
    grid = tile(images, num_levels, rows)
    grid = np.kron(grid, np.ones((scale, scale, *grid.shape[2:]), dtype=grid.dtype))
    with atomic_path(path) as tmp:
        plt.imsave(tmp, grid, cmap="gray_r", vmin=0, vmax=1, format="png")
