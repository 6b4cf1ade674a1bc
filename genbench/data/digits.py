"""scikit-learn's 8x8 handwritten digits: the embedded default dataset (no network needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from genbench.data.base import DataConfig, Dataset, DatasetFamily, DataSpec, Split, as_levels


def digits_split_indices(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/val/test indices of DESIGN.md section 4, so that figures compare across tools.

    test = 25% stratified (random_state=0, 450 images); val = 20% of the rest stratified
    (random_state=1, 270); train = the remaining 1077.
    """
    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)
    train, val = train_test_split(rest, test_size=0.2, random_state=1, stratify=y[rest])
    return train, val, test


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

        train, val, test = digits_split_indices(bunch.target)
        return Dataset(
            cls.name,
            DataSpec((1, 8, 8), num_levels=17, num_classes=10),
            split(train),
            split(val),
            split(test),
        )
