"""Binarized MNIST on small IDX files the tests write themselves (no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genbench.config import resolve, resolve_data
from genbench.data.binarized import BinarizedMNIST, binarize
from genbench.data.mnist import MNIST
from genbench.report.build import load_runs
from tests.data.test_mnist import write_family
from tests.report.fake import fake_run


def config(binarize: str = "threshold", seed: int = 0, n_val: int = 10):
    return BinarizedMNIST.Config(
        train_fraction=1.0, n_val=n_val, download=False, binarize=binarize, binarize_seed=seed
    )


def test_threshold_is_x_at_least_128() -> None:
    x = np.arange(256, dtype=np.uint8)
    bits = binarize(x, "threshold", np.random.default_rng(0))
    assert bits.dtype == np.uint8
    assert bits.tolist() == [0] * 128 + [1] * 128


def test_sample_is_bernoulli_of_x_over_255() -> None:
    """Each grey level x, drawn 20000 times: the share of ones is x / 255 within 4.5 standard
    errors; 0 and 255 are exact."""
    n = 20000
    x = np.repeat(np.arange(256, dtype=np.uint8)[:, None], n, axis=1)  # (256, n)
    bits = binarize(x, "sample", np.random.default_rng(1))
    assert set(np.unique(bits).tolist()) == {0, 1}
    share = bits.mean(axis=1)
    p = np.arange(256) / 255
    se = np.sqrt(p * (1 - p) / n)
    assert share[0] == 0 and share[255] == 1
    assert np.all(np.abs(share - p) <= 4.5 * se + 1e-12)


def test_load_binarizes_mnist_files(tmp_path: Path) -> None:
    """The same files as MNIST (MNIST/raw), the same split, each pixel x >= 128."""
    write_family(tmp_path, MNIST, gz=True)
    grey = MNIST.load(MNIST.Config(train_fraction=1.0, n_val=10, download=False), tmp_path)
    ds = BinarizedMNIST.load(config("threshold"), tmp_path)
    assert ds.name == "binarized-mnist"
    assert (ds.spec.shape, ds.spec.num_levels, ds.spec.num_classes) == ((1, 28, 28), 2, 10)
    for part in ("train", "val", "test"):
        mine, theirs = getattr(ds, part), getattr(grey, part)
        assert mine.x.dtype == torch.uint8
        assert torch.equal(mine.x, (theirs.x >= 128).to(torch.uint8))
        assert torch.equal(mine.y, theirs.y)


def test_sample_is_drawn_once_with_its_seed(tmp_path: Path) -> None:
    write_family(tmp_path, MNIST, gz=False)
    a = BinarizedMNIST.load(config("sample", seed=0), tmp_path)
    b = BinarizedMNIST.load(config("sample", seed=0), tmp_path)
    c = BinarizedMNIST.load(config("sample", seed=1), tmp_path)
    t = BinarizedMNIST.load(config("threshold"), tmp_path)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.x, b.test.x)
    assert not torch.equal(a.train.x, c.train.x)
    assert not torch.equal(a.test.x, t.test.x)
    assert int(a.train.x.max()) == 1


def test_an_images_bits_do_not_depend_on_the_split(tmp_path: Path) -> None:
    """Drawn on the training file before it is split: a different n_val moves images between
    train and val, never changes their bits."""
    write_family(tmp_path, MNIST, gz=False)
    a = BinarizedMNIST.load(config("sample", n_val=10), tmp_path)
    b = BinarizedMNIST.load(config("sample", n_val=20), tmp_path)
    grey = MNIST.load(MNIST.Config(train_fraction=1.0, n_val=10, download=False), tmp_path)
    grey_b = MNIST.load(MNIST.Config(train_fraction=1.0, n_val=20, download=False), tmp_path)

    def bits_by_image(ds, grey_ds):
        x = torch.cat([ds.train.x, ds.val.x])
        key = torch.cat([grey_ds.train.x, grey_ds.val.x])
        return {k.numpy().tobytes(): v.numpy().tobytes() for k, v in zip(key, x, strict=True)}

    assert bits_by_image(a, grey) == bits_by_image(b, grey_b)


def test_the_choice_is_in_the_config_and_the_label(tmp_path: Path) -> None:
    """data.binarize is part of the data config: in the run id, result.json and the report."""
    data = resolve_data("binarized-mnist")
    assert (data.binarize, data.binarize_seed) == ("threshold", 0)
    threshold = resolve("vae", "binarized-mnist")
    sample = resolve("vae", "binarized-mnist", 0, ["data.binarize=sample"])
    assert threshold.run_id != sample.run_id
    assert sample.to_dict()["data"]["binarize"] == "sample"
    metrics = {"bpd": 0.1, "bpd_kind": "elbo"}
    a = fake_run(tmp_path, "vae", metrics, dataset="binarized-mnist")
    b = fake_run(tmp_path, "vae", metrics, "data.binarize=sample", dataset="binarized-mnist")
    assert a.config["data"]["binarize"] == "threshold"
    runs = load_runs(tmp_path)
    labels = dict(zip(runs["run_id"], runs["variant"], strict=True))
    assert labels[a.run_id] == "vae (binarize=threshold)"
    assert labels[b.run_id] == "vae (binarize=sample)"


def test_a_bad_choice_is_one_line() -> None:
    from genbench.errors import GenbenchError

    with pytest.raises(GenbenchError, match=r"data\.binarize='dither' is not valid: must be one"):
        resolve("vae", "binarized-mnist", 0, ["data.binarize=dither"])
