"""A small convolutional classifier body: conv blocks halving the image until it is small,
then an MLP head. Tensors in, logits out; no loss, no training."""

from __future__ import annotations

from torch import Tensor, nn

from genbench.nets.mlp import MLP


class CNN(nn.Module):
    """(n, C, H, W) -> (n, out_dim): [conv3x3-ReLU x2, maxpool 2] blocks while the side is > 4,
    doubling the channels each block, then an MLP on the flattened maps."""

    def __init__(
        self, shape: tuple[int, ...], out_dim: int, channels: int, hidden: int, dropout: float
    ):
        super().__init__()
        c, h, w = shape
        blocks: list[nn.Module] = []
        while min(h, w) > 4:
            blocks += [
                nn.Conv2d(c, channels, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(channels, channels, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            c, h, w, channels = channels, h // 2, w // 2, channels * 2
        self.features = nn.Sequential(*blocks)
        self.head = MLP(c * h * w, out_dim, hidden, layers=1, dropout=dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))
