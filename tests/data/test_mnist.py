"""MNIST-family loaders on small IDX files the tests write themselves (no network)."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from genbench.data.mnist import (
    KMNIST,
    MNIST,
    FashionMNIST,
    IDXDataset,
    download_file,
    parse_idx,
    read_idx,
)
from genbench.errors import GenbenchError

N_TRAIN, N_TEST = 30, 10  # 3 training images per class, 1 test image per class


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: 2 zero bytes, type 0x08 (uint8), ndim, big-endian int32 sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_arrays(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.repeat(np.arange(10, dtype=np.uint8), 3),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8),
    }


def write_family(
    data_dir: Path, family: type[IDXDataset], *, gz: bool, seed: int = 0
) -> dict[str, np.ndarray]:
    """Write the four files of `family` under data_dir in torchvision's layout."""
    raw = data_dir / family.folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    arrays = make_arrays(seed)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (raw / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (raw / name).write_bytes(data)
    return arrays


def config(n_val: int = 10, download: bool = False) -> IDXDataset.Config:
    return IDXDataset.Config(train_fraction=1.0, n_val=n_val, download=download)


# --- IDX parsing ---


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    array = np.random.default_rng(1).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    path = tmp_path / ("a.gz" if gz else "a")
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    out = read_idx(path)
    assert out.dtype == np.uint8
    assert out.shape == (7, 28, 28)
    np.testing.assert_array_equal(out, array)
    assert out.flags.writeable


def test_parse_idx_one_dimensional() -> None:
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    out = parse_idx(idx_bytes(labels))
    assert out.shape == (5,)
    np.testing.assert_array_equal(out, labels)


@pytest.mark.parametrize(
    "data, why",
    [
        (b"\x00\x00", "shorter than"),
        (b"\x01\x00\x08\x01" + struct.pack(">i", 0), "two zero bytes"),
        (b"\x00\x00\x0d\x01" + struct.pack(">i", 0), "type code 0x0d"),
        (b"\x00\x00\x08\x03" + struct.pack(">i", 5), "header"),
        (b"\x00\x00\x08\x01" + struct.pack(">i", 5) + b"\x01\x02", "needs 5 bytes"),
        (b"\x00\x00\x08\x01" + struct.pack(">i", 1) + b"\x01\x02", "needs 1 bytes"),
    ],
)
def test_parse_idx_rejects_malformed(data: bytes, why: str) -> None:
    with pytest.raises(GenbenchError, match="some/file") as info:
        parse_idx(data, "some/file")
    assert why in str(info.value)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file_names_the_file(tmp_path: Path, gz: bool) -> None:
    write_family(tmp_path, MNIST, gz=gz)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    path = tmp_path / "MNIST" / "raw" / name
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(GenbenchError) as info:
        MNIST.load(config(), tmp_path)
    assert str(path) in str(info.value)


# --- loading ---


@pytest.mark.parametrize("gz", [False, True])
def test_load_spec_splits_and_values(tmp_path: Path, gz: bool) -> None:
    arrays = write_family(tmp_path, MNIST, gz=gz)
    ds = MNIST.load(config(n_val=10), tmp_path)

    assert ds.name == "mnist"
    assert (ds.spec.shape, ds.spec.num_levels, ds.spec.num_classes) == ((1, 28, 28), 256, 10)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (20, 10, 10)
    for split in ds.splits().values():
        assert split.x.dtype == torch.uint8 and split.x.shape[1:] == (1, 28, 28)
        assert split.y is not None and split.y.dtype == torch.int64

    # test split is the t10k file, in order
    np.testing.assert_array_equal(ds.test.x[:, 0].numpy(), arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.test.y.numpy(), arrays["t10k-labels-idx1-ubyte"])


def test_val_is_stratified_and_disjoint(tmp_path: Path) -> None:
    arrays = write_family(tmp_path, MNIST, gz=True)
    ds = MNIST.load(config(n_val=10), tmp_path)
    images = arrays["train-images-idx3-ubyte"]
    labels = arrays["train-labels-idx1-ubyte"]

    # stratified: 10 of 30 images with 3 per class -> exactly one of each class
    assert sorted(ds.val.y.tolist()) == list(range(10))
    assert sorted(ds.train.y.tolist()) == sorted([c for c in range(10) for _ in range(2)])

    # random images are distinct, so each image identifies its row in the training file
    rows = {images[i].tobytes(): i for i in range(N_TRAIN)}
    assert len(rows) == N_TRAIN
    train_rows = [rows[x.numpy().tobytes()] for x in ds.train.x[:, 0]]
    val_rows = [rows[x.numpy().tobytes()] for x in ds.val.x[:, 0]]
    assert not set(train_rows) & set(val_rows)
    assert sorted(train_rows + val_rows) == list(range(N_TRAIN))
    # each image keeps its own label
    assert ds.train.y.tolist() == labels[train_rows].tolist()
    assert ds.val.y.tolist() == labels[val_rows].tolist()


def test_split_is_fixed(tmp_path: Path) -> None:
    write_family(tmp_path, MNIST, gz=False)
    a, b = MNIST.load(config(), tmp_path), MNIST.load(config(), tmp_path)
    assert torch.equal(a.val.x, b.val.x) and torch.equal(a.train.y, b.train.y)


def test_each_family_reads_its_own_folder(tmp_path: Path) -> None:
    families = {MNIST: "MNIST", FashionMNIST: "FashionMNIST", KMNIST: "KMNIST"}
    written = {}
    for seed, family in enumerate(families):
        written[family] = write_family(tmp_path, family, gz=seed % 2 == 0, seed=seed)
    names = set()
    for family, folder in families.items():
        assert family.folder == folder
        ds = family.load(config(), tmp_path)
        names.add(ds.name)
        np.testing.assert_array_equal(
            ds.test.x[:, 0].numpy(), written[family]["t10k-images-idx3-ubyte"]
        )
    assert names == {"mnist", "fashion-mnist", "kmnist"}


def test_n_val_too_large_is_a_genbench_error(tmp_path: Path) -> None:
    write_family(tmp_path, KMNIST, gz=False)
    with pytest.raises(GenbenchError, match="n_val=30"):
        KMNIST.load(config(n_val=30), tmp_path)


def test_mismatched_label_count(tmp_path: Path) -> None:
    write_family(tmp_path, MNIST, gz=False)
    path = tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(np.arange(9, dtype=np.uint8)))
    with pytest.raises(GenbenchError, match="t10k-labels-idx1-ubyte"):
        MNIST.load(config(), tmp_path)


def test_missing_files_without_download(tmp_path: Path) -> None:
    with pytest.raises(GenbenchError) as info:
        FashionMNIST.load(config(download=False), tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert "fashion-mnist" in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert "--data-dir" in message and "train-images-idx3-ubyte.gz" in message
    assert not (tmp_path / "FashionMNIST").exists()  # nothing created when download is off


# --- downloads (no network: urlopen is replaced) ---


class FakeOpener:
    """Stands in for urllib.request.urlopen: serves bytes per URL, raises URLError otherwise."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.calls: list[str] = []

    def __call__(self, url: str, timeout: float | None = None) -> io.BytesIO:
        self.calls.append(url)
        assert timeout is not None and timeout <= 30  # offline failure must be fast
        if url not in self.files:
            raise urllib.error.URLError("offline")
        return io.BytesIO(self.files[url])


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_download_good_file_lands_atomically(tmp_path: Path) -> None:
    data = b"good bytes" * 1000
    opener = FakeOpener({"http://b/f.gz": data})
    dest = tmp_path / "raw" / "f.gz"
    download_file(["http://a/f.gz", "http://b/f.gz"], dest, md5(data), urlopen=opener)
    assert opener.calls == ["http://a/f.gz", "http://b/f.gz"]  # first mirror failed, second used
    assert dest.read_bytes() == data
    assert [p.name for p in dest.parent.iterdir()] == ["f.gz"]  # no temp file left behind


def test_download_bad_checksum_rejected(tmp_path: Path) -> None:
    opener = FakeOpener({"http://a/f.gz": b"corrupt", "http://b/f.gz": b"also corrupt"})
    dest = tmp_path / "f.gz"
    with pytest.raises(GenbenchError, match="md5") as info:
        download_file(["http://a/f.gz", "http://b/f.gz"], dest, md5(b"right"), urlopen=opener)
    assert opener.calls == ["http://a/f.gz", "http://b/f.gz"]  # mismatch moves on to next mirror
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # neither the final name nor a temp file


def test_download_bad_checksum_then_good_mirror(tmp_path: Path) -> None:
    good = b"right"
    opener = FakeOpener({"http://a/f.gz": b"wrong", "http://b/f.gz": good})
    dest = tmp_path / "f.gz"
    download_file(["http://a/f.gz", "http://b/f.gz"], dest, md5(good), urlopen=opener)
    assert dest.read_bytes() == good


def test_download_file_urls(tmp_path: Path) -> None:
    """The default opener (real urllib) with file:// URLs: no network involved."""
    source = tmp_path / "src.gz"
    source.write_bytes(b"payload")
    dest = tmp_path / "out" / "f.gz"
    download_file([source.as_uri()], dest, md5(b"payload"))
    assert dest.read_bytes() == b"payload"


def test_load_downloads_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """download=true fetches each missing .gz from the first working mirror, then loads it."""
    arrays = make_arrays(5)
    gzipped = {f"{name}.gz": gzip.compress(idx_bytes(a)) for name, a in arrays.items()}
    opener = FakeOpener({f"http://mirror/{name}": data for name, data in gzipped.items()})
    monkeypatch.setattr(urllib.request, "urlopen", opener)
    monkeypatch.setattr(KMNIST, "mirrors", ("http://dead/", "http://mirror/"))
    monkeypatch.setattr(KMNIST, "md5s", {name: md5(data) for name, data in gzipped.items()})

    ds = KMNIST.load(config(download=True), tmp_path)
    raw = tmp_path / "KMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(gzipped)
    assert len(opener.calls) == 8  # each file: dead mirror, then the good one
    np.testing.assert_array_equal(ds.test.y.numpy(), arrays["t10k-labels-idx1-ubyte"])


def test_offline_download_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opener = FakeOpener({})
    monkeypatch.setattr(urllib.request, "urlopen", opener)
    with pytest.raises(GenbenchError) as info:
        MNIST.load(config(download=True), tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("mnist: ")
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "download failed" in message and "--data-dir" in message
    assert opener.calls == [m + "train-images-idx3-ubyte.gz" for m in MNIST.mirrors]
    assert [p.name for p in (tmp_path / "MNIST" / "raw").iterdir()] == []


def test_torchvision_checksums_are_distinct() -> None:
    """Each family has md5s for exactly the four .gz files, and no two files share one."""
    all_md5s = []
    for family in (MNIST, FashionMNIST, KMNIST):
        assert set(family.md5s) == {f"{name}.gz" for name in family.file_names()}
        assert family.mirrors and all(m.endswith("/") for m in family.mirrors)
        all_md5s += family.md5s.values()
    assert len(set(all_md5s)) == 12
    assert all(len(h) == 32 and int(h, 16) >= 0 for h in all_md5s)
