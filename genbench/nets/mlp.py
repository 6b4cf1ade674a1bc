"""Plain multilayer perceptrons: tensors in, tensors out; no losses, no training."""

from __future__ import annotations

from torch import Tensor, nn


class MLP(nn.Module):
    """(n, in_dim) -> (n, out_dim) through `layers` hidden layers of `hidden` units (GELU)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int, layers: int, dropout: float = 0.0):
        super().__init__()
        blocks: list[nn.Module] = []
        width = in_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout)]
            width = hidden
        blocks.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
