"""MNIST, Fashion-MNIST and Kuzushiji-MNIST, read from IDX files in torchvision's folder layout.

Files are looked for in `<data_dir>/<folder>/raw/` (e.g. `MNIST/raw/train-images-idx3-ubyte`,
raw or `.gz`), which is where torchvision puts them, so existing downloads are reused. Missing
files are downloaded (if `data.download` is true) from torchvision's mirrors, checked against
torchvision's md5 checksums and moved into place atomically. Nothing else is cached on disk.

Splits: test = the official 10000 t10k images; validation = a fixed stratified subset of
`n_val` of the 60000 official training images (random_state=0); train = the rest.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from genbench.constraints import Annotated, Field
from genbench.data.base import DataConfig, Dataset, DatasetFamily, DataSpec, Split
from genbench.errors import GenbenchError

IMAGE_SIZE = 28
NUM_CLASSES = 10
DOWNLOAD_TIMEOUT_S = 10.0  # per request: an offline machine fails fast
_CHUNK = 1 << 20

# IDX type codes this parser accepts (the MNIST family only uses unsigned bytes)
_IDX_DTYPES = {0x08: np.dtype(np.uint8)}


def parse_idx(data: bytes, source: str | Path = "<bytes>") -> np.ndarray:
    """Parse the bytes of one IDX file into a writable numpy array.

    Layout: 2 zero bytes, a type code (0x08 = uint8), the number of dimensions, then one
    big-endian int32 per dimension, then the values. Anything else (including a truncated body
    or trailing bytes) raises a GenbenchError naming `source`.
    """

    def bad(why: str) -> GenbenchError:
        return GenbenchError(f"malformed IDX file {source}: {why}")

    if len(data) < 4:
        raise bad(f"only {len(data)} bytes, shorter than the 4-byte header")
    if data[0] != 0 or data[1] != 0:
        raise bad(f"magic number {data[:4].hex()} does not start with two zero bytes")
    dtype = _IDX_DTYPES.get(data[2])
    if dtype is None:
        raise bad(f"type code 0x{data[2]:02x} is not supported (only 0x08, unsigned byte)")
    ndim = data[3]
    if ndim == 0:
        raise bad("zero dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise bad(f"header of {ndim} dimensions needs {header} bytes, file has {len(data)}")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    if any(s < 0 for s in shape):
        raise bad(f"negative size in shape {shape}")
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - header != expected:
        raise bad(f"shape {shape} needs {expected} bytes of data, file has {len(data) - header}")
    # bytearray: a writable copy, so torch.from_numpy does not warn about read-only memory
    return np.frombuffer(bytearray(data), dtype=dtype, offset=header).reshape(shape)


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file, gzipped (name ends in .gz) or raw; GenbenchError names a bad file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:  # gzip truncation is EOFError
        raise GenbenchError(f"cannot read IDX file {path}: {_one_line(error)}") from error
    return parse_idx(data, path)


def download_file(
    urls: Sequence[str],
    dest: Path,
    md5: str,
    *,
    urlopen: Callable[..., Any] | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_S,
) -> None:
    """Fetch `dest` from the first of `urls` whose content has checksum `md5`.

    Each attempt streams into a temporary file in dest's folder and is moved onto `dest` with
    os.replace only once its md5 matches, so a partial or corrupt download never sits under
    the final name. `urlopen` defaults to urllib.request.urlopen (looked up at call time, so
    tests can monkeypatch it or pass their own). Raises GenbenchError if every URL fails.
    """
    opener = urllib.request.urlopen if urlopen is None else urlopen
    failures: list[str] = []
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GenbenchError(f"cannot create {dest.parent}: {_one_line(error)}") from error
    for url in urls:
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
            digest = hashlib.md5(usedforsecurity=False)
            with os.fdopen(fd, "wb") as out, opener(url, timeout=timeout) as response:
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != md5:
                failures.append(f"{url}: md5 {digest.hexdigest()} != expected {md5}")
                continue
            os.replace(tmp, dest)
            tmp = None
            return
        except (OSError, ValueError, http.client.HTTPException) as error:
            # URLError, HTTPError and timeouts are OSErrors; ValueError: a malformed URL
            failures.append(f"{url}: {_one_line(error)}")
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
    raise GenbenchError(f"could not download {dest.name}: {'; '.join(failures) or 'no URLs'}")


def hold_out(labels: np.ndarray, n_val: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) of the official training examples: a fixed stratified `n_val` of
    them held out for validation (random_state=0), the rest for training. A count that cannot
    be split so is a GenbenchError naming `name`'s data.n_val."""
    try:
        train, val = train_test_split(
            np.arange(len(labels)), test_size=n_val, random_state=0, stratify=labels
        )
    except ValueError as error:
        raise GenbenchError(
            f"{name}: data.n_val={n_val} cannot be split stratified from "
            f"{len(labels)} training images: {_one_line(error)}"
        ) from error
    return train, val


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


class IDXDataset(DatasetFamily):
    """An MNIST-like dataset: four IDX files of 28x28 uint8 images and 10 class labels.

    Subclasses only set the class attributes below; the loading code is shared.
    """

    folder: ClassVar[str]  # torchvision's folder name (its class name), under data_dir
    mirrors: ClassVar[tuple[str, ...]]  # base URLs, tried in order; file names are appended
    md5s: ClassVar[dict[str, str]]  # "<file>.gz" -> md5 of the gzipped file, as torchvision
    train_images: ClassVar[str] = "train-images-idx3-ubyte"
    train_labels: ClassVar[str] = "train-labels-idx1-ubyte"
    test_images: ClassVar[str] = "t10k-images-idx3-ubyte"
    test_labels: ClassVar[str] = "t10k-labels-idx1-ubyte"

    @dataclass
    class Config(DataConfig):
        # validation images held out (stratified) from the official 60000 training images
        n_val: Annotated[int, Field(ge=10, le=59990)]
        download: bool  # fetch missing files from the mirrors

    @classmethod
    def file_names(cls) -> tuple[str, ...]:
        """The four uncompressed names: train images, train labels, test images, test labels."""
        return (cls.train_images, cls.train_labels, cls.test_images, cls.test_labels)

    @classmethod
    def raw_folder(cls, data_dir: Path) -> Path:
        """Where the IDX files live: `<data_dir>/<folder>/raw`, as torchvision lays them out."""
        return Path(data_dir) / cls.folder / "raw"

    @classmethod
    def find_files(cls, raw: Path) -> dict[str, Path | None]:
        """Each file name -> its path (uncompressed preferred, else .gz), or None if missing."""
        found: dict[str, Path | None] = {}
        for name in cls.file_names():
            found[name] = next((p for p in (raw / name, raw / f"{name}.gz") if p.is_file()), None)
        return found

    @classmethod
    def ensure_files(cls, raw: Path, download: bool) -> dict[str, Path]:
        """Paths of the four files, downloading missing ones if allowed; else a one-line error."""
        found = cls.find_files(raw)
        missing = [name for name, path in found.items() if path is None]
        if not missing:
            return {name: path for name, path in found.items() if path is not None}
        wanted = ", ".join(f"{name}.gz" for name in cls.file_names())
        how = f"place {wanted} there (torchvision's layout), or pass --data-dir DIR"
        if not download:
            raise GenbenchError(
                f"{cls.name}: files not found in {raw} and data.download is false: {how}, "
                "or set data.download: true"
            )
        for name in missing:
            gz = f"{name}.gz"
            try:
                download_file([m + gz for m in cls.mirrors], raw / gz, cls.md5s[gz])
            except GenbenchError as error:
                raise GenbenchError(
                    f"{cls.name}: files not found in {raw} and download failed (no network?): "
                    f"{how} [{error}]"
                ) from error
        return {name: raw / f"{name}.gz" if path is None else path for name, path in found.items()}

    @classmethod
    def read_pair(cls, images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
        """Images (n, 28, 28) uint8 and labels (n,) uint8, checked to match each other."""
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise GenbenchError(
                f"{images_path}: expected images of shape (n, {IMAGE_SIZE}, {IMAGE_SIZE}), "
                f"got {images.shape}"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise GenbenchError(
                f"{labels_path}: expected {len(images)} labels to match {images_path.name}, "
                f"got shape {labels.shape}"
            )
        if len(labels) and labels.max() >= NUM_CLASSES:
            raise GenbenchError(f"{labels_path}: label {labels.max()} >= {NUM_CLASSES}")
        return images, labels

    @classmethod
    def to_levels(cls, images: np.ndarray, config: Config, part: int) -> np.ndarray:
        """The levels a file's images (n, 28, 28) uint8 are modelled in; `part` is 0 for the
        training file, 1 for the test file. The grey levels themselves, unless a variant
        (binarized MNIST) says otherwise."""
        return images

    @classmethod
    def describe(cls, config: Config) -> DataSpec:
        return DataSpec((1, IMAGE_SIZE, IMAGE_SIZE), num_levels=256, num_classes=NUM_CLASSES)

    @classmethod
    def load(cls, config: Config, data_dir: Path) -> Dataset:
        raw = cls.raw_folder(data_dir)
        files = cls.ensure_files(raw, config.download)
        x_train, y_train = cls.read_pair(files[cls.train_images], files[cls.train_labels])
        x_test, y_test = cls.read_pair(files[cls.test_images], files[cls.test_labels])
        x_train, x_test = cls.to_levels(x_train, config, 0), cls.to_levels(x_test, config, 1)
        train_idx, val_idx = hold_out(y_train, config.n_val, cls.name)

        def split(x: np.ndarray, y: np.ndarray) -> Split:
            images = torch.from_numpy(x).unsqueeze(1)  # (n, 1, 28, 28) uint8
            return Split(images, torch.from_numpy(y.astype(np.int64)))

        return Dataset(
            cls.name,
            cls.describe(config),
            split(x_train[train_idx], y_train[train_idx]),
            split(x_train[val_idx], y_train[val_idx]),
            split(x_test, y_test),
        )


# Mirrors and md5 checksums (of the .gz files) are torchvision's, torchvision/datasets/mnist.py.
# MNIST mirror order follows pytorch/vision PR #8865: yann.lecun.com often answers 403.


class MNIST(IDXDataset):
    """MNIST handwritten digits: 60000 training and 10000 test images of 28x28, 10 classes."""

    name = "mnist"
    folder = "MNIST"
    mirrors = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    md5s: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }


class FashionMNIST(IDXDataset):
    """Fashion-MNIST (Zalando): 28x28 grey images of 10 kinds of clothing, 60000/10000."""

    name = "fashion-mnist"
    folder = "FashionMNIST"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    md5s: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }


class KMNIST(IDXDataset):
    """Kuzushiji-MNIST: 28x28 images of 10 cursive Japanese characters, 60000/10000."""

    name = "kmnist"
    folder = "KMNIST"
    mirrors = ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",)
    md5s: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
        "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
        "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
        "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
    }
