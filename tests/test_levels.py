"""The two conventions that map levels to [-1, 1] (genbench.levels): the grid and the bins."""

import pytest
import torch

from genbench.levels import (
    bins_to_levels,
    levels_to_bins,
    levels_to_signed,
    levels_to_unit,
    signed_to_levels,
)


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_dequantized_levels_fill_their_bins_and_round_back(levels):
    x = torch.arange(levels)
    for noise in (torch.full((levels,), 1e-3), torch.full((levels,), 1 - 1e-3), None):
        y = levels_to_bins(x, levels, noise)
        assert y.min() >= -1 and y.max() <= 1
        assert torch.equal(bins_to_levels(y, levels), x)
    lower, upper = (
        levels_to_bins(x, levels, torch.zeros(levels)),
        levels_to_bins(x, levels, torch.ones(levels)),
    )
    assert lower[0] == -1 and upper[-1] == 1 and torch.allclose(lower[1:], upper[:-1])  # tiled
    centres = levels_to_bins(x, levels)
    assert torch.allclose(centres, -centres.flip(0))  # symmetric about 0
    assert torch.equal(
        bins_to_levels(torch.tensor([-1.0, 1.0]), levels), torch.tensor([0, levels - 1])
    )


@pytest.mark.parametrize("levels", [2, 5, 256])
def test_grid_puts_the_end_levels_at_the_ends_and_rounds_back(levels):
    x = torch.arange(levels).float()
    y = levels_to_signed(x, levels)
    assert y[0] == -1 and y[-1] == 1
    assert torch.allclose(y[1:] - y[:-1], torch.full((levels - 1,), 2 / (levels - 1)))
    assert torch.equal(signed_to_levels(y, levels), x.long())
    assert torch.allclose(levels_to_unit(x, levels), (y + 1) / 2)


def test_signed_to_levels_rounds_and_clamps():
    x0 = torch.tensor([-3.0, -1.0, -0.76, -0.74, 0.1, 0.99, 2.0])
    assert signed_to_levels(x0, 5).tolist() == [0, 0, 0, 1, 2, 4, 4]


def test_the_two_conventions_differ():
    """Same name once, different meaning: level 0 of 4 is -1 on the grid, -0.75 in the bins."""
    x = torch.tensor([0.0, 3.0])
    assert levels_to_signed(x, 4).tolist() == [-1.0, 1.0]
    assert levels_to_bins(x, 4).tolist() == [-0.75, 0.75]
