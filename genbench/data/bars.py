"""Bars and stripes: a synthetic binary dataset whose true entropy is known exactly.

On an n x n grid an image is a set of full columns (bars) or a set of full rows (stripes). The
empty and the full image are both, so there are 2^(n+1) - 2 distinct patterns. Drawing them
uniformly makes the entropy log2(2^(n+1) - 2) bits per image, which is what a perfect model's
expected test negative log-likelihood equals: the known answer for likelihood tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from genbench.constraints import Annotated, Field, PositiveInt, Seed
from genbench.data.base import DataConfig, Dataset, DatasetFamily, DataSpec, Split


def bars_patterns(size: int) -> torch.Tensor:
    """All distinct bars-and-stripes patterns, (2^(size+1) - 2, size, size) uint8."""
    bits = (torch.arange(2**size).unsqueeze(1) >> torch.arange(size)) & 1  # (2^n, n)
    vertical = bits.unsqueeze(1).expand(-1, size, -1)  # column j on when bit j is set
    horizontal = bits.unsqueeze(2).expand(-1, -1, size)  # row i on when bit i is set
    # the empty and the full image appear in both families: keep them once
    patterns = torch.cat([vertical, horizontal[1:-1]]).to(torch.uint8)
    return patterns


class Bars(DatasetFamily):
    name = "bars"

    @dataclass
    class Config(DataConfig):
        size: Annotated[int, Field(ge=2)]  # grid side n
        n_train: PositiveInt
        n_val: PositiveInt
        n_test: PositiveInt
        data_seed: Seed  # fixes the draw, independent of the run's seed

    @classmethod
    def describe(cls, config: Config) -> DataSpec:
        return DataSpec((1, config.size, config.size), num_levels=2, num_classes=None)

    @classmethod
    def load(cls, config: Config, data_dir: Path) -> Dataset:
        patterns = bars_patterns(config.size)
        generator = torch.Generator().manual_seed(config.data_seed)

        def draw(n: int) -> Split:
            which = torch.randint(len(patterns), (n,), generator=generator)
            return Split(patterns[which].unsqueeze(1), None)  # (n, 1, size, size)

        return Dataset(
            cls.name,
            cls.describe(config),
            draw(config.n_train),
            draw(config.n_val),
            draw(config.n_test),
            entropy_bits=math.log2(len(patterns)),
        )
