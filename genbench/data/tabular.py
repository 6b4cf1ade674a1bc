"""scikit-learn's embedded tabular datasets: continuous features, for the classifier side.

Generative models that need images or discrete levels do not apply to them (they say so and
exit with code 2); classifiers see the raw features, standardized by the runner where the
classifier is sensitive to scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_iris, load_wine

from genbench.data.base import DataConfig, Dataset, DatasetFamily, DataSpec, Split, standard_split


class TabularDataset(DatasetFamily):
    """A scikit-learn `load_*` dataset split like digits (25% test, 20% of the rest for val)."""

    loader: ClassVar[Callable[..., Any]]
    num_features: ClassVar[int]
    num_classes: ClassVar[int]

    @dataclass
    class Config(DataConfig):
        pass

    @classmethod
    def describe(cls, config: Config) -> DataSpec:
        return DataSpec((cls.num_features,), num_levels=None, num_classes=cls.num_classes)

    @classmethod
    def load(cls, config: Config, data_dir: Path) -> Dataset:
        bunch = cls.loader()
        x = torch.as_tensor(bunch.data, dtype=torch.float32)  # (n, features)
        y = torch.as_tensor(bunch.target, dtype=torch.int64)

        def split(index: np.ndarray) -> Split:
            i = torch.as_tensor(index)
            return Split(x[i], y[i])

        train, val, test = standard_split(bunch.target)
        return Dataset(cls.name, cls.describe(config), split(train), split(val), split(test))


class Iris(TabularDataset):
    name = "iris"
    loader = staticmethod(load_iris)
    num_features, num_classes = 4, 3


class Wine(TabularDataset):
    name = "wine"
    loader = staticmethod(load_wine)
    num_features, num_classes = 13, 3


class BreastCancer(TabularDataset):
    name = "breast-cancer"
    loader = staticmethod(load_breast_cancer)
    num_features, num_classes = 30, 2
