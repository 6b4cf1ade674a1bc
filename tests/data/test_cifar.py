"""CIFAR-10 from binary batches and tar.gz archives the tests write themselves (no network)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from genbench.data.cifar import CIFAR10, RECORD, parse_batch
from genbench.errors import GenbenchError

PER_BATCH = 6  # 5 training batches of 6: 30 images, 3 per class; the test batch has 10
NAMES = (*CIFAR10.train_files, CIFAR10.test_file)


def batch_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """The binary version's records: one label byte, then the (3, 32, 32) pixels as stored."""
    return b"".join(bytes([y]) + x.tobytes() for x, y in zip(images, labels, strict=True))


def make_batches(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """File name -> (images (n, 3, 32, 32) uint8, labels (n,) uint8), random and distinct."""
    rng = np.random.default_rng(seed)
    train_labels = np.repeat(np.arange(10, dtype=np.uint8), 3)
    rng.shuffle(train_labels)
    batches = {}
    for i, name in enumerate(CIFAR10.train_files):
        images = rng.integers(0, 256, (PER_BATCH, 3, 32, 32), dtype=np.uint8)
        batches[name] = (images, train_labels[i * PER_BATCH : (i + 1) * PER_BATCH])
    test = rng.integers(0, 256, (10, 3, 32, 32), dtype=np.uint8)
    batches[CIFAR10.test_file] = (test, np.arange(10, dtype=np.uint8))
    return batches


def write_batches(data_dir: Path, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The six batch files in `<data_dir>/cifar-10-batches-bin/`, as the archive extracts them."""
    folder = data_dir / CIFAR10.folder
    folder.mkdir(parents=True, exist_ok=True)
    batches = make_batches(seed)
    for name, (images, labels) in batches.items():
        (folder / name).write_bytes(batch_bytes(images, labels))
    return batches


def archive_bytes(batches, extra: dict[str, bytes] | None = None, drop: str = "") -> bytes:
    """A cifar-10-binary.tar.gz holding the batches under cifar-10-batches-bin/, with `extra`
    members and without `drop`."""
    members = {f"{CIFAR10.folder}/{n}": batch_bytes(*b) for n, b in batches.items() if n != drop}
    members |= {f"{CIFAR10.folder}/batches.meta.txt": b"airplane\n", **(extra or {})}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def config(n_val: int = 10, download: bool = False) -> CIFAR10.Config:
    return CIFAR10.Config(train_fraction=1.0, n_val=n_val, download=download)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_parse_batch_reads_channels_first_planes() -> None:
    """A record's 3072 bytes are the red plane, then green, then blue, each row by row."""
    pixels = np.zeros((3, 32, 32), dtype=np.uint8)
    pixels[0, 0, 1] = 11  # red, row 0, column 1: byte 1 after the label
    pixels[1, 2, 0] = 22  # green, row 2, column 0: byte 1024 + 64
    pixels[2, 31, 31] = 33  # blue, last pixel: the record's last byte
    record = bytearray(RECORD)
    record[0], record[1 + 1], record[1 + 1024 + 64], record[-1] = 7, 11, 22, 33
    images, labels = parse_batch(bytes(record) * 2)
    assert images.shape == (2, 3, 32, 32) and labels.tolist() == [7, 7]
    np.testing.assert_array_equal(images[1], pixels)
    assert images.flags.writeable and labels.flags.writeable


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "0 bytes is not a whole number"),
        (bytes(RECORD + 5), f"{RECORD + 5} bytes"),
        (bytes([10]) + bytes(RECORD - 1), "label 10 >= 10"),
    ],
)
def test_malformed_batch_names_the_file(data: bytes, why: str) -> None:
    with pytest.raises(GenbenchError, match="some/file") as info:
        parse_batch(data, "some/file")
    assert why in str(info.value)


def test_load_spec_splits_and_values(tmp_path: Path) -> None:
    batches = write_batches(tmp_path)
    ds = CIFAR10.load(config(n_val=10), tmp_path)
    assert ds.name == "cifar10"
    assert (ds.spec.shape, ds.spec.num_levels, ds.spec.num_classes) == ((3, 32, 32), 256, 10)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (20, 10, 10)
    for split in ds.splits().values():
        assert split.x.dtype == torch.uint8 and split.x.shape[1:] == (3, 32, 32)
        assert split.y.dtype == torch.int64
    test_images, test_labels = batches[CIFAR10.test_file]
    np.testing.assert_array_equal(ds.test.x.numpy(), test_images)  # the test batch, in order
    np.testing.assert_array_equal(ds.test.y.numpy(), test_labels)


def test_validation_is_a_stratified_part_of_the_training_batches(tmp_path: Path) -> None:
    batches = write_batches(tmp_path)
    ds = CIFAR10.load(config(n_val=10), tmp_path)
    images = np.concatenate([batches[n][0] for n in CIFAR10.train_files])
    labels = np.concatenate([batches[n][1] for n in CIFAR10.train_files])
    assert sorted(ds.val.y.tolist()) == list(range(10))  # 10 of 3 per class: one each
    rows = {x.tobytes(): i for i, x in enumerate(images)}
    assert len(rows) == 30  # random images are distinct: each names its row
    train_rows = [rows[x.numpy().tobytes()] for x in ds.train.x]
    val_rows = [rows[x.numpy().tobytes()] for x in ds.val.x]
    assert sorted(train_rows + val_rows) == list(range(30))  # disjoint and complete
    assert ds.train.y.tolist() == labels[train_rows].tolist()  # each image keeps its label
    assert ds.val.y.tolist() == labels[val_rows].tolist()
    again = CIFAR10.load(config(n_val=10), tmp_path)
    assert torch.equal(again.val.x, ds.val.x)  # fixed


def test_n_val_too_large_is_one_line(tmp_path: Path) -> None:
    write_batches(tmp_path)
    with pytest.raises(GenbenchError, match=r"cifar10: data\.n_val=30 cannot be split"):
        CIFAR10.load(config(n_val=30), tmp_path)


def test_missing_files_without_download(tmp_path: Path) -> None:
    with pytest.raises(GenbenchError) as info:
        CIFAR10.load(config(download=False), tmp_path)
    message = str(info.value)
    assert "\n" not in message and message.startswith("cifar10: files not found in ")
    assert str(tmp_path / "cifar-10-batches-bin") in message
    assert "cifar-10-binary.tar.gz" in message and "--data-dir" in message
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_an_archive_in_place_is_checked_and_extracted(tmp_path, monkeypatch) -> None:
    """No download: the archive beside the folder is verified, then only the six batches are
    extracted (a member outside the folder, e.g. a path escaping it, is never written)."""
    batches = make_batches(3)
    evil = {"../escaped.bin": b"x", f"{CIFAR10.folder}/readme.html": b"<html>"}
    data = archive_bytes(batches, extra=evil)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / CIFAR10.archive).write_bytes(data)
    monkeypatch.setattr(CIFAR10, "md5", md5(data))
    ds = CIFAR10.load(config(download=False), tmp_path / "data")
    np.testing.assert_array_equal(ds.test.x.numpy(), batches[CIFAR10.test_file][0])
    folder = tmp_path / "data" / CIFAR10.folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(NAMES)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(
        [CIFAR10.archive, CIFAR10.folder]  # no staging folder left behind
    )
    assert not (tmp_path / "escaped.bin").exists()


def test_download_verifies_and_extracts(tmp_path, monkeypatch) -> None:
    """download=true with the URL pointed at a local file:// archive (no network)."""
    batches = make_batches(4)
    data = archive_bytes(batches)
    source = tmp_path / "served.tar.gz"
    source.write_bytes(data)
    monkeypatch.setattr(CIFAR10, "url", source.as_uri())
    monkeypatch.setattr(CIFAR10, "md5", md5(data))
    ds = CIFAR10.load(config(download=True), tmp_path / "data")
    assert (tmp_path / "data" / CIFAR10.archive).read_bytes() == data  # kept, as torchvision
    train = np.concatenate([batches[n][0] for n in CIFAR10.train_files])
    assert len(ds.train) + len(ds.val) == len(train)
    np.testing.assert_array_equal(ds.test.y.numpy(), batches[CIFAR10.test_file][1])


def test_a_download_with_the_wrong_checksum_is_refused(tmp_path, monkeypatch) -> None:
    source = tmp_path / "served.tar.gz"
    source.write_bytes(archive_bytes(make_batches()))
    monkeypatch.setattr(CIFAR10, "url", source.as_uri())  # md5 stays the published one
    with pytest.raises(GenbenchError) as info:
        CIFAR10.load(config(download=True), tmp_path / "data")
    message = str(info.value)
    assert "\n" not in message and "download failed" in message
    assert f"md5 {md5(source.read_bytes())} != expected {CIFAR10.md5}" in message
    assert list((tmp_path / "data").iterdir()) == []  # no archive, no partial file, no folder


def test_a_damaged_archive_in_place_is_refused_and_kept(tmp_path) -> None:
    (tmp_path / CIFAR10.archive).write_bytes(b"half an archive")
    with pytest.raises(GenbenchError, match="not the published c32a1d4a") as info:
        CIFAR10.load(config(download=True), tmp_path)
    assert "delete it to download it again" in str(info.value)
    assert (tmp_path / CIFAR10.archive).read_bytes() == b"half an archive"


def test_an_archive_without_a_batch_names_it(tmp_path, monkeypatch) -> None:
    data = archive_bytes(make_batches(), drop="data_batch_3.bin")
    (tmp_path / CIFAR10.archive).write_bytes(data)
    monkeypatch.setattr(CIFAR10, "md5", md5(data))
    with pytest.raises(GenbenchError, match=r"lacks cifar-10-batches-bin/data_batch_3\.bin"):
        CIFAR10.load(config(), tmp_path)
    assert not (tmp_path / CIFAR10.folder).exists()


def test_offline_download_is_one_line(tmp_path, monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(GenbenchError) as info:
        CIFAR10.load(config(download=True), tmp_path)
    message = str(info.value)
    assert "\n" not in message and "download failed (no network?)" in message
    assert CIFAR10.url in message


def test_the_published_checksum_and_url() -> None:
    """The binary version's md5 as the dataset's page lists it (not torchvision's, which is of
    the pickled python version, c58f30108f718f92721af3b95e74349a)."""
    assert CIFAR10.url == "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    assert CIFAR10.md5 == "c32a1d4ab5d03f1284b67883e8d87530"
