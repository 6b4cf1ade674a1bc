"""DCGAN-style convolutional generator and discriminator (Radford et al., 2016), sized from the
image shape: tensors in, tensors out; no losses, no training.

Both networks work on a pyramid of resolutions: the image size is halved while both sides stay
even and at least 4, so 28x28 -> 14x14 -> 7x7 (two stages, the usual MNIST DCGAN), 8x8 -> 4x4
(one), and 4x4 stays as it is (none). Channels double at each halving, from `width` at full
resolution. Convolutions rather than an MLP even for 8x8 images: the same weights serve every
position, so strokes are learned once, and the one design scales from 4x4 bars to 28x28 MNIST.
"""

from __future__ import annotations

from torch import Tensor, nn


def resolution_stages(height: int, width: int) -> int:
    """How many times (height, width) can be halved keeping both sides even and at least 4."""
    stages = 0
    while height % 2 == 0 and width % 2 == 0 and height // 2 >= 4 and width // 2 >= 4:
        height, width, stages = height // 2, width // 2, stages + 1
    return stages


class Generator(nn.Module):
    """(n, latent_dim) -> (n, C, H, W) in (-1, 1).

    A linear map to the coarsest grid, then one transposed convolution (kernel 4, stride 2) per
    stage that doubles the resolution and halves the channels, each followed by batch norm and
    ReLU as in DCGAN; a 3x3 convolution to the image channels and tanh close it.
    """

    def __init__(self, latent_dim: int, shape: tuple[int, int, int], width: int) -> None:
        super().__init__()
        channels, height, width_px = shape
        stages = resolution_stages(height, width_px)
        self.base = (width * 2**stages, height >> stages, width_px >> stages)  # (C0, H0, W0)
        c0, h0, w0 = self.base
        self.project = nn.Linear(latent_dim, c0 * h0 * w0)
        blocks: list[nn.Module] = [nn.BatchNorm2d(c0), nn.ReLU()]
        for stage in range(stages, 0, -1):
            c = width * 2**stage
            blocks += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.BatchNorm2d(c // 2), nn.ReLU()]
        blocks += [nn.Conv2d(width, channels, 3, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*blocks)

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(len(z), *self.base)  # (n, C0, H0, W0)
        return self.net(h)  # (n, C, H, W)


class Discriminator(nn.Module):
    """(n, C, H, W) -> (n,) unnormalized scores (logits of "real", or a WGAN critic's values).

    The generator's mirror: a 3x3 convolution to `width` channels, then one strided convolution
    (kernel 4, stride 2) per stage, LeakyReLU(0.2) throughout, and a linear read-out. No batch
    norm: it couples the examples of a batch, which breaks the per-example gradient penalty of
    WGAN-GP (Gulrajani et al., 2017), and the non-saturating loss trains well without it here.
    """

    def __init__(self, shape: tuple[int, int, int], width: int) -> None:
        super().__init__()
        channels, height, width_px = shape
        stages = resolution_stages(height, width_px)
        blocks: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.2)]
        for stage in range(stages):
            c = width * 2**stage
            blocks += [nn.Conv2d(c, 2 * c, 4, 2, 1), nn.LeakyReLU(0.2)]
        features = width * 2**stages * (height >> stages) * (width_px >> stages)
        blocks += [nn.Flatten(), nn.Linear(features, 1)]
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)  # (n,)
