"""Invertible layers of RealNVP (Dinh et al., 2017) and Glow (Kingma and Dhariwal, 2018): each
maps x to y with log|det dy/dx| and has an exact inverse; no losses, no training.

A layer's `forward(x)` returns (y, logdet) with logdet (n,), `inverse(y)` returns x. The multi-
scale flow composes them: at each scale, affine couplings with checkerboard masks, a squeeze
(C, H, W) -> (4C, H/2, W/2), couplings with channel masks, then half the channels are factored
out (they are latents already); the last scale has checkerboard couplings only. Each step is
actnorm, optionally an invertible 1x1 convolution, then a coupling (Glow's step).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn


def checkerboard_mask(height: int, width: int, parity: int) -> Tensor:
    """(1, 1, H, W) of 0/1, 1 where (i + j + parity) is even: the entries a coupling keeps."""
    i, j = torch.arange(height).unsqueeze(1), torch.arange(width)
    return ((i + j + parity) % 2 == 0).float().view(1, 1, height, width)


def channel_mask(channels: int, parity: int) -> Tensor:
    """(1, C, 1, 1) of 0/1: 1 on the first half of the channels (parity 0) or the second."""
    first = (torch.arange(channels) < channels // 2).float()
    return (first if parity == 0 else 1 - first).view(1, channels, 1, 1)


def affine_coupling(
    x: Tensor,
    mask: Tensor,
    shift_and_log_scale: Callable[[Tensor], tuple[Tensor, Tensor]],
    inverse: bool = False,
) -> tuple[Tensor, Tensor]:
    """RealNVP's coupling (Dinh et al., 2017, eq. 9) with mask b (1 on the kept entries):

        y = b x + (1 - b) (x exp(s(b x)) + t(b x)),    log|det dy/dx| = sum (1 - b) s(b x)

    and its inverse x = b y + (1 - b) (y - t(b y)) exp(-s(b y)), which works because b y = b x.
    x (n, C, H, W) -> (y, logdet (n,)); with inverse=True, y -> (x, -logdet)."""
    s, t = shift_and_log_scale(mask * x)  # each (n, C, H, W)
    s, t = (1 - mask) * s, (1 - mask) * t
    y = x * torch.exp(s) + t if not inverse else (x - t) * torch.exp(-s)
    logdet = s.flatten(1).sum(1)
    return y, (-logdet if inverse else logdet)


def squeeze(x: Tensor) -> Tensor:
    """(n, C, H, W) -> (n, 4C, H/2, W/2): each 2x2 patch into channels; log|det| = 0."""
    n, c, h, w = x.shape
    x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)  # (n, C, 2, 2, H/2, W/2)
    return x.reshape(n, 4 * c, h // 2, w // 2)


def unsqueeze(x: Tensor) -> Tensor:
    """(n, 4C, H/2, W/2) -> (n, C, H, W), the inverse of `squeeze`."""
    n, c4, h, w = x.shape
    x = x.view(n, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)  # (n, C, H/2, 2, W/2, 2)
    return x.reshape(n, c4 // 4, 2 * h, 2 * w)


class ActNorm(nn.Module):
    """y = (x + b) exp(log_s) per channel (Glow), log|det| = H W sum log_s. The first training
    batch sets b and log_s so that its channels have zero mean and unit variance (data-dependent
    init, no batch statistics after it); until then it is the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training and not self.initialized:
            with torch.no_grad():
                mean = x.mean((0, 2, 3), keepdim=True)
                std = x.std((0, 2, 3), keepdim=True) if len(x) > 1 else torch.ones_like(mean)
                self.bias.copy_(-mean)
                self.log_scale.copy_(-torch.log(std + 1e-6))
                self.initialized.fill_(True)
        logdet = x[0, 0].numel() * self.log_scale.sum()
        return (x + self.bias) * torch.exp(self.log_scale), logdet.expand(len(x))

    def inverse(self, y: Tensor) -> Tensor:
        return y * torch.exp(-self.log_scale) - self.bias


class InvertibleConv1x1(nn.Module):
    """y = W x at every pixel (Glow), W (C, C) initialized to a random rotation;
    log|det| = H W log|det W|."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.linalg.qr(torch.randn(channels, channels))[0])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logdet = x[0, 0].numel() * torch.linalg.slogdet(self.weight)[1]
        return torch.einsum("ij,njhw->nihw", self.weight, x), logdet.expand(len(x))

    def inverse(self, y: Tensor) -> Tensor:
        return torch.einsum("ij,njhw->nihw", torch.linalg.inv(self.weight), y)


class Coupling(nn.Module):
    """An affine coupling of `channels` channels with a fixed mask (broadcast to (1, C, H, W)),
    whose s and t come from a small conv net of the kept entries and of `cond`, extra channels
    it is conditioned on (if any). The net's last layer starts at zero, so the coupling starts as
    the identity; s = scale * tanh(.) keeps exp(s) bounded."""

    def __init__(
        self,
        channels: int,
        mask: Tensor,
        hidden: int,
        blocks: int,
        dropout: float,
        cond_channels: int = 0,
    ) -> None:
        super().__init__()
        self.register_buffer("mask", mask, persistent=False)
        layers: list[nn.Module] = []
        width = channels + cond_channels
        for _ in range(blocks):
            layers += [nn.Conv2d(width, hidden, 3, padding=1), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        out = nn.Conv2d(width, 2 * channels, 3, padding=1)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        self.net = nn.Sequential(*layers, out)
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))

    def shift_and_log_scale(self, kept: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor]:
        h = kept if cond is None else torch.cat([kept, cond], 1)
        s, t = self.net(h).chunk(2, 1)  # each (n, C, H, W)
        return self.scale * torch.tanh(s), t

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return affine_coupling(x, self.mask, partial(self.shift_and_log_scale, cond=cond))

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        net = partial(self.shift_and_log_scale, cond=cond)
        return affine_coupling(y, self.mask, net, inverse=True)[0]


def through(layers: nn.ModuleList, x: Tensor) -> tuple[Tensor, Tensor]:
    """x through invertible `layers` in order -> (y, the sum of their logdets (n,))."""
    logdet = x.new_zeros(len(x))
    for layer in layers:
        x, ld = layer(x)
        logdet = logdet + ld
    return x, logdet


def back_through(layers: nn.ModuleList, y: Tensor) -> Tensor:
    """The inverse of `through`: y back through `layers` in reverse order."""
    for layer in reversed(layers):
        y = layer.inverse(y)
    return y


class FlowStep(nn.Module):
    """Glow's step of flow: actnorm, an invertible 1x1 convolution (if `invconv`), a coupling."""

    def __init__(
        self, channels: int, mask: Tensor, hidden: int, blocks: int, dropout: float, invconv: bool
    ) -> None:
        super().__init__()
        mixing = [InvertibleConv1x1(channels)] if invconv else []
        coupling = Coupling(channels, mask, hidden, blocks, dropout)
        self.layers = nn.ModuleList([ActNorm(channels), *mixing, coupling])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return through(self.layers, x)

    def inverse(self, y: Tensor) -> Tensor:
        return back_through(self.layers, y)


class MultiScaleFlow(nn.Module):
    """x (n, C, H, W) <-> z (n, C*H*W), with log|det dz/dx| (n,), RealNVP's multi-scale
    architecture (Dinh et al., 2017, sec. 3.6), one scale per module, recursively:

        x -> checkerboard steps -> [last scale: z = x]
          -> squeeze (4C, H/2, W/2) -> channel steps -> split channels (z_out, h)
          -> z = (z_out, the next scale's z of h)        h: (2C, H/2, W/2)
    """

    def __init__(
        self,
        shape: tuple[int, int, int],
        scales: int,
        couplings: int,
        hidden: int,
        blocks: int,
        dropout: float,
        invconv: bool,
    ) -> None:
        super().__init__()
        c, h, w = self.shape = shape

        def step(channels: int, mask: Tensor) -> FlowStep:
            return FlowStep(channels, mask, hidden, blocks, dropout, invconv)

        self.checker = nn.ModuleList(
            step(c, checkerboard_mask(h, w, i % 2)) for i in range(couplings)
        )
        self.channel = nn.ModuleList()
        self.next: MultiScaleFlow | None = None
        if scales > 1:
            self.channel.extend(step(4 * c, channel_mask(4 * c, i % 2)) for i in range(couplings))
            rest = (2 * c, h // 2, w // 2)
            self.next = MultiScaleFlow(
                rest, scales - 1, couplings, hidden, blocks, dropout, invconv
            )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x, logdet = through(self.checker, x)
        if self.next is None:
            return x.flatten(1), logdet
        x, logdet_channel = through(self.channel, squeeze(x))  # (n, 4C, H/2, W/2)
        out, rest = x.chunk(2, 1)  # each (n, 2C, H/2, W/2); out is a latent already
        z_rest, logdet_rest = self.next(rest)
        return torch.cat([out.flatten(1), z_rest], 1), logdet + logdet_channel + logdet_rest

    def inverse(self, z: Tensor) -> Tensor:
        """z (n, C*H*W) -> x (n, C, H, W), undoing `forward`."""
        if self.next is None:
            return back_through(self.checker, z.view(-1, *self.shape))
        size = z.shape[1] // 2
        out = z[:, :size].view(-1, *self.next.shape)
        x = torch.cat([out, self.next.inverse(z[:, size:])], 1)  # (n, 4C, H/2, W/2)
        return back_through(self.checker, unsqueeze(back_through(self.channel, x)))
