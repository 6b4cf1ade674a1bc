"""CIFAR-10, read from its binary version (no pickle): 32x32 colour images, 10 classes.

Files are looked for in `<data_dir>/cifar-10-batches-bin/` (data_batch_1.bin .. data_batch_5.bin,
test_batch.bin): the folder `cifar-10-binary.tar.gz` extracts to, beside the one torchvision
extracts its pickled python version to (`cifar-10-batches-py`, not read here). When they are
missing, the archive `<data_dir>/cifar-10-binary.tar.gz` is used if there, else downloaded (if
`data.download` is true) from the dataset's page; either way its md5 is checked against the
published one before the six batch files (and no other member) are extracted, each moved into
place atomically. The archive is kept, as torchvision keeps its own.

A batch file is a run of 3073-byte records: one label byte (0-9), then the image's 1024 red,
1024 green and 1024 blue bytes, each plane row by row: (3, 32, 32) channels first, as stored.

Splits: test = test_batch (10000); validation = a fixed stratified `n_val` of the 50000 training
images (random_state=0); train = the rest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, ClassVar

import numpy as np
import torch

from genbench.constraints import Field
from genbench.data.base import DataConfig, Dataset, DatasetFamily, DataSpec, Split
from genbench.data.mnist import _one_line, download_file, hold_out
from genbench.errors import GenbenchError

SHAPE = (3, 32, 32)
RECORD = 1 + 3 * 32 * 32  # label byte + pixels
NUM_CLASSES = 10
_CHUNK = 1 << 20


def parse_batch(data: bytes, source: str | Path = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """The bytes of one batch file -> images (n, 3, 32, 32) uint8 and labels (n,) uint8, both
    writable; a size that is not a whole number of records, or a label >= 10, is a GenbenchError
    naming `source`."""
    if not data or len(data) % RECORD:
        raise GenbenchError(
            f"malformed CIFAR-10 batch {source}: {len(data)} bytes is not a whole number of "
            f"{RECORD}-byte records (1 label byte + 3072 pixel bytes)"
        )
    records = np.frombuffer(bytearray(data), dtype=np.uint8).reshape(-1, RECORD)  # (n, 3073)
    labels = records[:, 0].copy()
    if labels.max() >= NUM_CLASSES:
        raise GenbenchError(f"malformed CIFAR-10 batch {source}: label {labels.max()} >= 10")
    return np.ascontiguousarray(records[:, 1:]).reshape(-1, *SHAPE), labels


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise GenbenchError(f"cannot read CIFAR-10 batch {path}: {_one_line(error)}") from error
    return parse_batch(data, path)


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def extract_members(archive: Path, folder: Path, names: tuple[str, ...]) -> None:
    """Extract `<folder.name>/<name>` for each of `names` from the tar.gz `archive` into
    `folder`: only those regular files, written to a temporary folder beside it and each moved
    into place with os.replace, so no partial file sits under a final name."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {PurePosixPath(m.name).parts[-2:]: m for m in tar.getmembers() if m.isfile()}
            missing = [n for n in names if (folder.name, n) not in members]
            if missing:
                raise GenbenchError(
                    f"{archive} lacks {', '.join(f'{folder.name}/{n}' for n in missing)}"
                )
            folder.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
            try:
                for name in names:
                    source = tar.extractfile(members[(folder.name, name)])
                    assert source is not None  # a regular file's member always has content
                    with source, (staging / name).open("wb") as out:
                        shutil.copyfileobj(source, out, _CHUNK)
                for name in names:
                    os.replace(staging / name, folder / name)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise GenbenchError(f"cannot extract {archive}: {_one_line(error)}") from error


class CIFAR10(DatasetFamily):
    """CIFAR-10 (Krizhevsky 2009): 50000 training and 10000 test colour images of 32x32 in 10
    classes (airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck)."""

    name = "cifar10"
    folder: ClassVar[str] = "cifar-10-batches-bin"  # what the archive extracts to, in data_dir
    archive: ClassVar[str] = "cifar-10-binary.tar.gz"
    url: ClassVar[str] = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    # the md5 published on https://www.cs.toronto.edu/~kriz/cifar.html for the binary version
    md5: ClassVar[str] = "c32a1d4ab5d03f1284b67883e8d87530"
    train_files: ClassVar[tuple[str, ...]] = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
    test_file: ClassVar[str] = "test_batch.bin"

    @dataclass
    class Config(DataConfig):
        # validation images held out (stratified) from the official 50000 training images
        n_val: Annotated[int, Field(ge=10, le=49990)]
        download: bool  # fetch the archive from the dataset's page when files are missing

    @classmethod
    def ensure_files(cls, data_dir: Path, download: bool) -> Path:
        """The folder holding the six batch files, extracted from the archive (downloaded first
        if allowed and missing) when any is missing; else a one-line error saying what to do."""
        folder = Path(data_dir) / cls.folder
        names = (*cls.train_files, cls.test_file)
        if all((folder / name).is_file() for name in names):
            return folder
        archive = Path(data_dir) / cls.archive
        how = (
            f"place {cls.archive} in {data_dir} or its six .bin files in {folder}, "
            "or pass --data-dir DIR"
        )
        if archive.is_file():
            found = file_md5(archive)
            if found != cls.md5:
                raise GenbenchError(
                    f"{cls.name}: {archive} has md5 {found}, not the published {cls.md5} "
                    "(damaged or partial?): delete it to download it again"
                )
        elif not download:
            raise GenbenchError(
                f"{cls.name}: files not found in {folder} and data.download is false: {how}, "
                "or set data.download: true"
            )
        else:
            try:
                download_file([cls.url], archive, cls.md5)
            except GenbenchError as error:
                raise GenbenchError(
                    f"{cls.name}: files not found in {folder} and download failed (no network?): "
                    f"{how} [{error}]"
                ) from error
        extract_members(archive, folder, names)
        return folder

    @classmethod
    def describe(cls, config: Config) -> DataSpec:
        return DataSpec(SHAPE, num_levels=256, num_classes=NUM_CLASSES)

    @classmethod
    def load(cls, config: Config, data_dir: Path) -> Dataset:
        folder = cls.ensure_files(data_dir, config.download)
        train = [read_batch(folder / name) for name in cls.train_files]
        x_train = np.concatenate([x for x, _ in train])
        y_train = np.concatenate([y for _, y in train])
        x_test, y_test = read_batch(folder / cls.test_file)
        train_idx, val_idx = hold_out(y_train, config.n_val, cls.name)

        def split(x: np.ndarray, y: np.ndarray) -> Split:
            return Split(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)))

        return Dataset(
            cls.name,
            cls.describe(config),
            split(x_train[train_idx], y_train[train_idx]),
            split(x_train[val_idx], y_train[val_idx]),
            split(x_test, y_test),
        )
