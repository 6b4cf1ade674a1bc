"""Conversions between discrete levels (ints in [0, L)) and the float scales networks use.

Two conventions map levels to [-1, 1], and they differ, so they have different names:

- the *grid* (`levels_to_signed`, `signed_to_levels`): level k sits at 2k/(L-1) - 1, level 0
  at -1 and the top level at +1; neighbouring levels are 2/(L-1) apart. DDPM's data scale and
  the discretized logistic and Gaussian output distributions use it (Ho et al. 2020, eq. 13;
  Salimans et al. 2017).
- the *bins* (`levels_to_bins`, `bins_to_levels`): [-1, 1] is cut into L equal bins and level
  k owns [-1 + 2k/L, -1 + 2(k+1)/L); a level maps to its bin's centre, or, with uniform noise,
  anywhere in its bin (dequantization). The GAN uses it, so real images are continuous like
  its generator's output.

`levels_to_unit` is the usual network input: k / (L-1) in [0, 1].
"""

from __future__ import annotations

import torch
from torch import Tensor


def levels_to_unit(x: Tensor, num_levels: int) -> Tensor:
    """Levels (n, *shape), already floats of the wanted dtype (a tensor or a numpy array) ->
    k / (L-1) in [0, 1]."""
    return x / (num_levels - 1)


def levels_to_signed(x: Tensor, num_levels: int) -> Tensor:
    """Levels (n, *shape) -> the grid on [-1, 1]: level k at 2k/(L-1) - 1."""
    return 2.0 * x / (num_levels - 1) - 1.0


def signed_to_levels(y: Tensor, num_levels: int) -> Tensor:
    """Floats on the grid scale (n, *shape) -> the nearest levels (long), clamped to [0, L)."""
    return torch.round((y.clamp(-1, 1) + 1) / 2 * (num_levels - 1)).long()


def levels_to_bins(x: Tensor, num_levels: int, noise: Tensor | None = None) -> Tensor:
    """Levels (n, *shape) -> floats in [-1, 1]: each level's bin centre, or with `noise`
    (uniform in [0, 1), same shape) a point spread uniformly over its bin."""
    offset = 0.5 if noise is None else noise
    return (x + offset) * (2.0 / num_levels) - 1.0


def bins_to_levels(y: Tensor, num_levels: int) -> Tensor:
    """Floats in [-1, 1] -> the levels (long) whose bins hold them, inverse of `levels_to_bins`."""
    return ((y + 1.0) * (num_levels / 2.0)).floor().clamp(0, num_levels - 1).long()
