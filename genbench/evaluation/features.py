"""The domain feature space sample quality is measured in: a small CNN classifier trained on the
dataset's own training split (Inception cannot be fetched here and means little on 8x8 digits).

It is trained once per dataset with a fixed seed and cached in the user's cache folder
(genbench.paths.features_dir(): ~/.cache/genbench/features unless set otherwise), keyed by the
dataset, its parameters, a fingerprint of its data (so the same name read from another
`--data-dir` never reuses another data's extractor), its training settings and a hash of this
code, then reused by every run in every results folder. Where that folder cannot be written,
a results folder keeps its own (`<results>/features`). Its training is sized for the training
set (`sized_training`): a budget of images seen, not a fixed number of epochs.
Its test accuracy travels with it: features of a poor classifier mean little. Datasets without
labels (bars) are measured in pixel space instead.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import inspect
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import IO

import torch
from torch import Tensor, nn

from genbench import training
from genbench.data.base import Dataset, Split
from genbench.levels import levels_to_unit
from genbench.nets import cnn
from genbench.results.store import atomic_path, warn_stderr

# The extractor's own settings: part of its cache key, so changing one trains a new extractor.
EXTRACTOR = {"channels": 32, "hidden": 128, "dropout": 0.3, "lr": 1e-3, "weight_decay": 0.0}
# How its training is sized for a training set (sized_training): images seen, epochs, batches.
TRAINING = {
    "images_seen": 60_000,
    "min_epochs": 2,
    "max_epochs": 100,
    "max_patience": 10,
    "batch_size": 64,
    "large_set": 20_000,  # from this many training images on, batches of large_batch_size
    "large_batch_size": 128,
    "seed": 0,
}
# the rest of its Trainer's settings (genbench.training.TrainerSettings): the defaults of runs
TRAINER = {
    "max_steps": -1,
    "accelerator": "auto",
    "devices": "auto",
    "strategy": "auto",
    "precision": "32-true",
    "gradient_clip_val": 0.0,
    "deterministic": True,
}


@dataclass
class FeatureSpace:
    """Maps levels (n, *shape) to features (n, d); `classify` gives class probabilities (n, K)
    where the space comes from a classifier."""

    id: str  # e.g. "digits-cnn-3f2a9c1b07" or "bars-pixels"
    net: nn.Module | None  # the trained CNN; None: pixels
    num_levels: int
    test_accuracy: float | None

    @torch.no_grad()
    def features(self, x: Tensor) -> Tensor:
        unit = levels_to_unit(x.float(), self.num_levels)
        if self.net is None:
            return unit.flatten(1)
        hidden = self.net.features(unit).flatten(1)
        return self.net.head.net[:-1](hidden)  # the head's hidden layer: (n, hidden)

    @torch.no_grad()
    def classify(self, x: Tensor) -> Tensor | None:
        if self.net is None:
            return None
        return torch.softmax(self.net(levels_to_unit(x.float(), self.num_levels)), dim=1)


def cache_key(dataset: str, data: Dataset, data_config: object) -> str:
    """Everything the extractor depends on, hashed: the dataset's name and parameters (but not
    train_fraction: the extractor sees the whole train split), its data itself (the
    fingerprint), the extractor's settings and the training sized from them for this data,
    this module's code, the network's code and the training routine's code."""
    params = {k: v for k, v in dataclasses.asdict(data_config).items() if k != "train_fraction"}
    settings = [EXTRACTOR, TRAINING, sized_training(len(data.train.x)), TRAINER]
    blob = json.dumps([dataset, params, *settings, fingerprint(data)], sort_keys=True)
    for module in (cnn, training, inspect.getmodule(cache_key)):
        blob += inspect.getsource(module)
    return f"{dataset}-cnn-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def fingerprint(data: Dataset) -> str:
    """sha256 of the data the extractor is trained, selected and scored on: the spec (shape,
    levels, classes) and each split's images and labels, bytes, dtype and shape."""
    digest = hashlib.sha256(repr(dataclasses.astuple(data.spec)).encode())
    for name, split in data.splits().items():
        for part, tensor in (("x", split.x), ("y", split.y)):
            if tensor is None:
                continue
            array = tensor.detach().cpu().contiguous().numpy()
            digest.update(f"{name}.{part} {array.dtype} {array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def sized_training(n_train: int) -> dict[str, int]:
    """The extractor's training sized for a training set of `n_train` images: a budget of
    images seen (TRAINING["images_seen"]), not a fixed number of epochs, so ~1,000 8x8 digits
    train about as long as they need and 50,000 MNIST images take a few epochs, not hours.

        max_epochs = clamp(ceil(images_seen / n_train), min_epochs, max_epochs)
        patience   = clamp(max_epochs // 4, 2, max_patience)   (epochs without a better val loss)
        batch_size = batch_size, or large_batch_size from large_set training images on

    e.g. 1077 digits: 56 epochs, patience 10, batch 64; 4,500 images: 14, 3, 64; 50,000: 2, 2, 128.
    """
    t = TRAINING
    epochs = min(
        max(math.ceil(t["images_seen"] / max(n_train, 1)), t["min_epochs"]), t["max_epochs"]
    )
    return {
        "max_epochs": epochs,
        "patience": min(max(epochs // 4, 2), t["max_patience"]),
        "batch_size": t["large_batch_size"] if n_train >= t["large_set"] else t["batch_size"],
    }


def feature_space(
    dataset: str,
    data: Dataset,
    data_config: object,
    cache_dir: Path,
    announce: Callable[[str], None] | None = None,
    fallback_dir: Path | None = None,
) -> FeatureSpace:
    """The dataset's feature space, trained now if it is cached in neither `cache_dir` nor
    `fallback_dir` (under a lock, so parallel runs train it once). It is trained into
    `cache_dir`, or into `fallback_dir` where `cache_dir` cannot be written (one line says so).
    `data` must hold the full train split. `announce` is told before the extractor trains, so
    its epoch lines are not taken for the run's own."""
    levels = data.spec.num_levels
    if data.spec.num_classes is None or len(data.spec.shape) != 3:
        return FeatureSpace(f"{dataset}-pixels", None, levels, None)
    key = cache_key(dataset, data, data_config)
    folders = [cache_dir] if fallback_dir is None else [cache_dir, fallback_dir]
    path = next((f / f"{key}.pt" for f in folders if (f / f"{key}.pt").is_file()), None)
    if path is None:
        try:
            lock = open_lock(cache_dir, key)
        except OSError as error:
            if fallback_dir is None:
                raise
            (announce or warn_stderr)(
                f"cannot write the feature extractor cache {cache_dir} ({error.strerror or error})"
                f"; keeping it in {fallback_dir} instead (set GENBENCH_CACHE to a writable folder "
                "to share it between results folders)"
            )
            cache_dir, lock = fallback_dir, open_lock(fallback_dir, key)
        path = cache_dir / f"{key}.pt"
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():  # else another process trained it while this one waited
                if announce is not None:
                    announce(training_line(dataset, len(data.train.x), path))
                train_extractor(data, path)
    saved = torch.load(path, map_location="cpu", weights_only=True)
    net = build_net(data)
    net.load_state_dict(saved["state_dict"])
    return FeatureSpace(key, net.eval(), levels, saved["test_accuracy"])


def open_lock(folder: Path, key: str) -> IO[str]:
    """The extractor's lock file in `folder`, created with the folder; OSError if unwritable."""
    folder.mkdir(parents=True, exist_ok=True)
    return open(folder / f"{key}.lock", "a")


def training_line(dataset: str, n_train: int, path: Path) -> str:
    """What the run says before the extractor trains: what, why, how much, and where it goes."""
    sized = sized_training(n_train)
    epochs, patience = sized["max_epochs"], sized["patience"]
    return (
        f"training the sample-quality feature extractor for {dataset} first (fd, precision, "
        "recall and the rest are measured in the features of this CNN; it trains once per "
        f"dataset): up to {epochs} epochs of its "
        f"{n_train} training images ({epochs * n_train:,} images seen at most, batch "
        f"{sized['batch_size']}; it stops early after {patience} epochs without a better "
        f"validation loss); cached in {path} for later runs; the epoch lines below are its own"
    )


def build_net(data: Dataset) -> nn.Module:
    c = EXTRACTOR
    return cnn.CNN(data.spec.shape, data.spec.num_classes, c["channels"], c["hidden"], c["dropout"])


def train_extractor(data: Dataset, path: Path) -> None:
    """Train the CNN on the train split (best epoch on val), score it on test, save it."""

    def unit(split: Split) -> Split:
        return Split(levels_to_unit(split.x.float(), data.spec.num_levels), split.y)

    scaled = Dataset(data.name, data.spec, unit(data.train), unit(data.val), unit(data.test))
    trainer = SimpleNamespace(**TRAINER, **sized_training(len(data.train.x)))
    module, _ = training.train_classifier(
        lambda: build_net(data),
        scaled,
        EXTRACTOR["lr"],
        EXTRACTOR["weight_decay"],
        trainer,
        TRAINING["seed"],
    )
    with torch.no_grad():
        x_test = scaled.test.x
        predicted = torch.cat(
            [module(x_test[i : i + 4096]).argmax(1) for i in range(0, len(x_test), 4096)]
        )
    accuracy = float((predicted == scaled.test.y).double().mean())
    state = {"state_dict": module.net.state_dict(), "test_accuracy": accuracy}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
