"""scikit-learn's 8x8 handwritten digits: the embedded default dataset (no network needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from genbench.data.base import (
    DataConfig,
    Dataset,
    DatasetFamily,
    DataSpec,
    Split,
    as_levels,
    standard_split,
)


class Digits(DatasetFamily):
    """1797 images of 8x8 pixels with values 0..16 (17 levels), 10 classes."""

    name = "digits"

    @dataclass
    class Config(DataConfig):
        pass

    @classmethod
    def describe(cls, config: Config) -> DataSpec:
        return DataSpec((1, 8, 8), num_levels=17, num_classes=10)

    @classmethod
    def load(cls, config: Config, data_dir: Path) -> Dataset:
        bunch = load_digits()
        spec = cls.describe(config)
        x = as_levels(torch.from_numpy(bunch.data).view(-1, *spec.shape), spec.num_levels)
        y = torch.from_numpy(bunch.target).long()

        def split(i: np.ndarray) -> Split:
            index = torch.from_numpy(i)
            return Split(x[index], y[index])

        train, val, test = standard_split(bunch.target)
        return Dataset(
            cls.name,
            spec,
            split(train),
            split(val),
            split(test),
        )
