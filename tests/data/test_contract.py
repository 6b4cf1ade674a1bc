"""The contract every registered dataset keeps, parametrized over the registry: its `describe()`
(nothing loaded) agrees with the tensors `load()` gives, x is levels in range, uint8 up to 256
levels and int64 beyond (or float32 features), y int64 labels in range (or None), and the three
splits partition the source data (each example in exactly one split). MNIST-family sets,
CIFAR-10 and text are read from files the test writes."""

import numpy as np
import pytest
import torch

from genbench.config import resolve_data
from genbench.data.base import level_dtype
from genbench.data.binarized import BinarizedMNIST
from genbench.data.cifar import CIFAR10
from genbench.data.mnist import IDXDataset
from genbench.data.text import Text
from genbench.registry import DATASETS, applies, describe, lookup
from tests.data.test_cifar import write_batches
from tests.data.test_mnist import write_family


def rows(x: torch.Tensor, y: torch.Tensor | None) -> np.ndarray:
    """Each example as one row (its label last), the rows sorted: a multiset to compare."""
    flat = x.flatten(1).double().numpy()
    if y is not None:
        flat = np.concatenate([flat, y.double().numpy()[:, None]], 1)
    return flat[np.lexsort(flat.T[::-1])]


def source(family, data_dir) -> tuple[torch.Tensor, torch.Tensor] | None:
    """All the examples the splits are cut from, or None where the splits are independent draws
    (bars: a synthetic distribution, sampled per split)."""
    if issubclass(family, IDXDataset):
        arrays = write_family(data_dir, family, gz=True)
        x = np.concatenate([arrays["train-images-idx3-ubyte"], arrays["t10k-images-idx3-ubyte"]])
        y = np.concatenate([arrays["train-labels-idx1-ubyte"], arrays["t10k-labels-idx1-ubyte"]])
        if issubclass(family, BinarizedMNIST):  # its preset thresholds: x >= 128 -> 1
            x = (x >= 128).astype(np.uint8)
        return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    if issubclass(family, CIFAR10):
        batches = write_batches(data_dir).values()
        x = np.concatenate([images for images, _ in batches])
        y = np.concatenate([labels for _, labels in batches])
        return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    if hasattr(family, "loader"):  # scikit-learn's embedded sets (tabular)
        bunch = family.loader()
        return torch.as_tensor(bunch.data), torch.as_tensor(bunch.target)
    if family.name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        return torch.as_tensor(bunch.data), torch.as_tensor(bunch.target)
    return None


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_dataset_contract(name, tmp_path):
    family = lookup("dataset", name).load()
    overrides = ["data.n_val=10"] if issubclass(family, IDXDataset | CIFAR10) else []
    if family is Text:
        (tmp_path / "text.txt").write_text("To be, or not to be: that is the question.\n" * 200)
        overrides = [f"data.path={tmp_path / 'text.txt'}", "data.block_size=16"]
    config = resolve_data(name, overrides)
    spec = describe(name, config)
    everything = source(family, tmp_path)
    data = family.load(config, tmp_path)
    assert data.spec == spec  # describe() says what load() gives
    for split in data.splits().values():
        assert len(split) > 0 and split.x.shape[1:] == spec.shape
        if spec.num_levels is None:
            assert split.x.dtype == torch.float32
        else:
            assert split.x.dtype == level_dtype(spec.num_levels)
            assert int(split.x.min()) >= 0 and int(split.x.max()) < spec.num_levels
        if spec.num_classes is None:
            assert split.y is None
        else:
            assert split.y.dtype == torch.int64 and len(split.y) == len(split.x)
            assert int(split.y.min()) >= 0 and int(split.y.max()) < spec.num_classes
    if everything is not None:  # disjoint and complete: each example in exactly one split
        splits = data.splits().values()
        x = torch.cat([s.x.flatten(1).double() for s in splits])
        y = None if spec.num_classes is None else torch.cat([s.y for s in splits])
        assert np.array_equal(
            rows(x, y),
            rows(everything[0].to(data.train.x.dtype).flatten(1).double(), everything[1]),
        )


def test_applies_says_why_a_model_does_not_fit_a_dataset():
    iris, bars = describe("iris", resolve_data("iris")), describe("bars", resolve_data("bars"))
    assert applies("vae", iris) == "a generative model needs discrete levels"
    assert applies("bayes-vae", iris) == "a generative classifier needs discrete levels"
    assert applies("logreg", bars) == "a classifier needs labels"
    assert applies("cnn", iris).startswith("cnn needs images")
    assert applies("vae", bars) is None and applies("logreg", iris) is None
    markov = describe("markov", resolve_data("markov"))
    assert (
        applies("gan", markov) == "gan needs images (channels, height, width), not examples of "
        f"shape {markov.shape}"
    )
    assert applies("ddpm", markov).startswith("ddpm needs images")
    assert applies("transformer", markov) is None
    small = describe("bars", resolve_data("bars", ["data.size=3", "model.ignored=1"]))
    assert small.shape == (1, 3, 3)
