"""What a dataset is to the rest of genbench: a DataSpec and three fixed splits of tensors."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from genbench.constraints import Fraction


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data."""

    shape: tuple[int, ...]  # one example, e.g. (1, 8, 8) for digits
    num_levels: int | None  # discrete data: ints in [0, num_levels); None = continuous
    num_classes: int | None  # labelled data: ints in [0, num_classes); None = unlabelled

    @property
    def dim(self) -> int:
        """Number of dimensions of one example (the D of bits per dimension)."""
        return math.prod(self.shape)


@dataclass
class Split:
    """One split: x is (n, *shape) levels, uint8 (int64 beyond 256 levels: `level_dtype`), or
    float32 if continuous; y is (n,) int64."""

    x: Tensor
    y: Tensor | None

    def __len__(self) -> int:
        return len(self.x)

    def to(self, device: torch.device | str) -> Split:
        y = None if self.y is None else self.y.to(device)
        return Split(self.x.to(device), y)


@dataclass
class Dataset:
    """A loaded dataset: its spec, fixed train/val/test splits, and its true entropy if known."""

    name: str
    spec: DataSpec
    train: Split
    val: Split
    test: Split
    entropy_bits: float | None = None  # true entropy of one example in bits, where known
    # sequences (examples of shape (T,)): where known, the true entropy per token in the long
    # run; how to write one example (T,) as text; the UTF-8 bytes each test example stands
    # for, (n,) int64, so that models of differently tokenized text compare in bits per byte
    entropy_rate_bits: float | None = None
    decode: Callable[[Tensor], str] | None = None
    test_bytes: Tensor | None = None

    @property
    def entropy_bpd(self) -> float | None:
        """True entropy in bits per dimension: the best test bpd any model can expect."""
        return None if self.entropy_bits is None else self.entropy_bits / self.spec.dim

    def splits(self) -> dict[str, Split]:
        return {"train": self.train, "val": self.val, "test": self.test}


@dataclass
class DataConfig:
    """Keys every dataset has; a family's Config subclasses this and adds its own."""

    train_fraction: Fraction  # stratified share of the train and val splits kept, in (0, 1]


def keep_fraction(split: Split, fraction: float, seed: int) -> Split:
    """A random share of a split, stratified by label when it has labels, chosen by `seed`."""
    if fraction >= 1.0:
        return split
    from sklearn.model_selection import train_test_split

    n = len(split)
    keep = max(1, round(fraction * n))
    labels = None if split.y is None else split.y.cpu().numpy()
    if labels is not None:
        keep = max(keep, len(set(labels.tolist())))  # at least one example of each class
    if keep >= n:
        return split
    index, _ = train_test_split(range(n), train_size=keep, random_state=seed, stratify=labels)
    index = torch.as_tensor(sorted(index))
    return Split(split.x[index], None if split.y is None else split.y[index])


def standard_split(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/val/test indices for scikit-learn's small embedded datasets (DESIGN.md section 4),
    so that figures compare across tools: test = 25% stratified (random_state=0); val = 20% of
    the rest, stratified (random_state=1); train = the remainder (digits: 1077/270/450)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)
    train, val = train_test_split(rest, test_size=0.2, random_state=1, stratify=y[rest])
    return train, val, test


class DatasetFamily:
    """A registered dataset: its parameters (`Config`, values from the YAML preset), what its
    examples are (`describe`, cheap: nothing is read) and a loader."""

    name: ClassVar[str]
    Config: ClassVar[type]

    @classmethod
    def describe(cls, config: object) -> DataSpec:
        """The spec `load(config, ...)` gives its data, without loading it."""
        raise NotImplementedError

    @classmethod
    def load(cls, config: object, data_dir: Path) -> Dataset:
        raise NotImplementedError


def level_dtype(num_levels: int) -> torch.dtype:
    """How levels are stored: uint8 up to 256 levels (images), int64 beyond (token ids)."""
    return torch.uint8 if num_levels <= 256 else torch.int64


def as_levels(x: Tensor, num_levels: int) -> Tensor:
    """Check that x holds ints in [0, num_levels) and return it as `level_dtype(num_levels)`."""
    if x.is_floating_point() and not torch.equal(x, x.round()):
        raise ValueError("discrete data must hold whole numbers")
    if x.min() < 0 or x.max() >= num_levels:
        raise ValueError(f"values must lie in [0, {num_levels}), got [{x.min()}, {x.max()}]")
    return x.to(level_dtype(num_levels))
