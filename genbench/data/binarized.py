"""Binarized MNIST: MNIST's images turned into 0/1 pixels, read from MNIST's own files.

The files, their folder (`<data_dir>/MNIST/raw/`), the download and the splits are MNIST's
(genbench.data.mnist): test = the official 10000, validation = a stratified `n_val` of the 60000
training images, train = the rest. `data.binarize` says how a grey level x in 0..255 becomes a
bit, and is part of the data config every result records:

- `threshold`: x >= 128 -> 1 (deterministic);
- `sample`: a Bernoulli draw with p = x / 255, made once per image with `data.binarize_seed`
  (the training file's images with one stream, the test file's with another), so every run
  with the same seed sees the same bits, whatever its split or training fraction.

This is not the fixed binarized MNIST of Larochelle & Murray (2011) that papers report on (their
own sample of 50000/10000/10000 images): figures here compare with each other, not with those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from genbench.constraints import Seed
from genbench.data.base import DataSpec
from genbench.data.mnist import IMAGE_SIZE, MNIST, NUM_CLASSES, IDXDataset

GREY_LEVELS = 256


def binarize(
    x: np.ndarray, method: Literal["threshold", "sample"], rng: np.random.Generator
) -> np.ndarray:
    """Grey levels x (any shape, uint8 in 0..255) -> bits of the same shape (uint8 0 or 1).

    threshold: b = [x >= 128]. sample: b ~ Bernoulli(x / 255), drawn as b = [r < x] with r
    uniform on {0, ..., 254}, so P(b = 1) = x / 255 exactly (0 stays 0, 255 stays 1); `rng` is
    used only by `sample`.
    """
    if method == "threshold":
        return (x >= GREY_LEVELS // 2).astype(np.uint8)
    r = rng.integers(0, GREY_LEVELS - 1, size=x.shape, dtype=np.uint8)
    return (r < x).astype(np.uint8)


class BinarizedMNIST(MNIST):
    """MNIST with each pixel 0 or 1 (`data.binarize`: threshold or sample), 2 levels."""

    name = "binarized-mnist"

    @dataclass
    class Config(IDXDataset.Config):
        binarize: Literal["threshold", "sample"]  # x >= 128, or Bernoulli(x / 255) drawn once
        binarize_seed: Seed  # the draw of `sample` (threshold reads none)

    @classmethod
    def to_levels(cls, images: np.ndarray, config: Config, part: int) -> np.ndarray:
        """Bits of a file's images; `part` (0: training file, 1: test file) picks the stream."""
        rng = np.random.default_rng([config.binarize_seed, part])
        return binarize(images, config.binarize, rng)

    @classmethod
    def describe(cls, config: Config) -> DataSpec:
        return DataSpec((1, IMAGE_SIZE, IMAGE_SIZE), num_levels=2, num_classes=NUM_CLASSES)
