"""A small U-Net for diffusion: (x_t (n, C, H, W), t (n,)) -> eps, the shape of x_t.

After Ho et al. (2020), itself after Ronneberger et al. (2015): residual blocks of GroupNorm,
SiLU and 3x3 convolutions, one halving of the image per level and skip connections across.
Each block reads the step t through a learned embedding that scales and shifts its normalized
activations (FiLM, Perez et al. 2018; the "scale-shift norm" of Nichol & Dhariwal 2021). For
discrete data the input also carries Fourier features of x_t at the spacing of the levels
(Kingma et al. 2021, "Variational Diffusion Models", appendix C): at small noise they show where
x_t lies between two levels, which the likelihood bound rewards.

Plain nn.Modules: no losses, no training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genbench.nets.mlp import MLP


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of integer steps t (n,) -> (n, dim) (Vaswani et al. 2017, as in
    Ho et al. 2020): sin and cos of t at geometric frequencies from 1 to 1/max_period."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]  # (n, half)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def fourier_features(x: Tensor, num_levels: int | None, dim: int = 1) -> Tensor:
    """x (n, C, ...) in [-1, 1] -> (n, 3C, ...): x, sin and cos of pi (L - 1) x along `dim`.

    The levels of discrete data sit 2 / (L - 1) apart, one period of these features: at small
    noise they read off where x_t lies between two levels. Identity for continuous data.
    """
    if num_levels is None:
        return x
    angle = math.pi * (num_levels - 1) * x
    return torch.cat([x, angle.sin(), angle.cos()], dim=dim)


class TimeEmbedding(nn.Module):
    """Integer steps t (n,) -> (n, dim) of `dtype`: sinusoids, then a small MLP (Ho et al.).

    The embedding depends on t only, so it is computed once per distinct step in the batch:
    sampling and the likelihood bound run whole batches at one or a few steps.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = MLP(dim, dim, dim, layers=1)

    def forward(self, t: Tensor, dtype: torch.dtype) -> Tensor:
        steps, index = torch.unique(t, return_inverse=True)
        return self.mlp(timestep_embedding(steps, self.dim).to(dtype))[index]


def zero_init(module: nn.Conv2d) -> nn.Conv2d:
    """A layer that starts at zero (Ho et al. 2020): each residual block starts as the identity
    and the network as the prediction eps = 0."""
    nn.init.zeros_(module.weight)
    nn.init.zeros_(module.bias)
    return module


class FiLM(nn.Module):
    """Normalize h (n, C, ...), then scale and shift each channel by the step's embedding:
    norm(h) * (1 + scale(emb)) + shift(emb) (Perez et al. 2018)."""

    def __init__(self, norm: nn.Module, channels: int, emb_dim: int) -> None:
        super().__init__()
        self.norm = norm
        self.project = nn.Linear(emb_dim, 2 * channels)

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        scale, shift = self.project(emb).chunk(2, dim=1)  # (n, C) each
        trailing = (1,) * (h.dim() - 2)  # broadcast over the pixels of feature maps
        return self.norm(h) * (1 + scale.view(*scale.shape, *trailing)) + shift.view(
            *shift.shape, *trailing
        )


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a residual: (n, c_in, H, W) -> (n, c_out, H, W); the step's
    embedding scales and shifts the second normalization (FiLM)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm = group_norm(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = FiLM(group_norm(c_out), c_out, emb_dim)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm(x)))
        h = self.conv2(self.dropout(F.silu(self.film(h, emb))))
        return self.skip(x) + h


class UNet(nn.Module):
    """(x_t (n, C, H, W), t (n,)) -> eps (n, C, H, W).

    Level k works at resolution H / 2^k with channels * 2^k channels; the image is halved while
    both sides stay even and at least 8 (8x8 -> 4x4; 28x28 -> 14x14 -> 7x7), so the depth
    follows the data's shape.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        num_levels: int | None,
        channels: int,
        dropout: float,
    ) -> None:
        super().__init__()
        c_in, height, width = shape
        self.num_levels = num_levels
        depth = 1
        while height % 2 == 0 and width % 2 == 0 and min(height, width) >= 8:
            height, width, depth = height // 2, width // 2, depth + 1
        widths = [channels * 2**k for k in range(depth)]
        emb_dim = 4 * channels
        self.embed = TimeEmbedding(emb_dim)
        features = c_in if num_levels is None else 3 * c_in
        self.input = nn.Conv2d(features, channels, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for k, w in enumerate(widths):
            self.down.append(ResBlock(widths[max(k - 1, 0)], w, emb_dim, dropout))
            if k < depth - 1:
                self.downsample.append(nn.Conv2d(w, w, 3, stride=2, padding=1))
        self.middle = ResBlock(widths[-1], widths[-1], emb_dim, dropout)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for k in reversed(range(depth)):
            c_from = widths[-1] if k == depth - 1 else widths[k + 1]
            self.up.append(ResBlock(c_from + widths[k], widths[k], emb_dim, dropout))
            if k > 0:
                self.upsample.append(nn.Conv2d(widths[k], widths[k], 3, padding=1))
        self.out_norm = group_norm(channels)
        self.out = zero_init(nn.Conv2d(channels, c_in, 3, padding=1))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        emb = self.embed(t, x.dtype)  # (n, 4 channels)
        h = self.input(fourier_features(x, self.num_levels))  # (n, channels, H, W)
        skips = []
        for k, block in enumerate(self.down):
            h = block(h, emb)  # (n, channels 2^k, H / 2^k, W / 2^k)
            skips.append(h)
            if k < len(self.downsample):
                h = self.downsample[k](h)
        h = self.middle(h, emb)
        for k, block in enumerate(self.up):
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
            if k < len(self.upsample):
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
                h = self.upsample[k](h)
        return self.out(F.silu(self.out_norm(h)))
