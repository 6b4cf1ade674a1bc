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
    def load(cls, config: Config, data_dir: Path) -> Dataset:
        bunch = load_digits()
        x = as_levels(torch.from_numpy(bunch.data).view(-1, 1, 8, 8), 17)  # (1797, 1, 8, 8)
        y = torch.from_numpy(bunch.target).long()

        def split(i: np.ndarray) -> Split:
            index = torch.from_numpy(i)
            return Split(x[index], y[index])

        train, val, test = standard_split(bunch.target)
        return Dataset(
            cls.name,
            DataSpec((1, 8, 8), num_levels=17, num_classes=10),
            split(train),
            split(val),
            split(test),
        )
