"""Harness overhead: seconds per training epoch of the genbench VAE (Lightning Trainer with all of
genbench's callbacks, logging and checkpointing) against a plain PyTorch loop doing the same work:
same network, data on the same device, batch size and optimizer, a validation pass per epoch and
a copy of the best weights kept, as early stopping needs.

    python benchmarks/overhead.py [--repeats 3] [--out benchmarks/out/overhead.json]

genbench trains with its default preset until early stopping, and after each of its epochs the
plain loop runs one of its own, in this one process, so that a change in the machine's speed
falls on both sides of each pair. A repeat's ratio is the median over its pairs (the first,
set-up, left out) of genbench's epoch time over the plain loop's; the figure is the median over
repeats (target: at most 1.10).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from common import paired_epochs, write_figures

from genbench.config import resolve
from genbench.runner import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/overhead.json"))
    args = parser.parse_args()

    cfg = resolve("vae", args.dataset, seed=0)
    data = load_dataset(cfg)
    genbench_times, plain_times, ratios = [], [], []
    for repeat in range(args.repeats):
        times, plain, device = paired_epochs(cfg, data)
        genbench_times.append(times[1:])  # the first epoch carries one-off set-up on both sides
        plain_times.append(plain[1:])
        ratios.append(statistics.median(g / p for g, p in zip(times[1:], plain[1:], strict=True)))
        print(f"repeat {repeat + 1}: ratio {ratios[-1]:.3f}", flush=True)
    g = statistics.median(t for ts in genbench_times for t in ts)
    p = statistics.median(t for ts in plain_times for t in ts)
    ratio = statistics.median(ratios)
    figures = {
        "benchmark": "overhead",
        "model": "vae",
        "dataset": args.dataset,
        "batch_size": cfg.trainer.batch_size,
        "epochs_timed_per_repeat": [len(ts) for ts in genbench_times],
        "genbench_epoch_seconds_median": g,
        "plain_pytorch_epoch_seconds_median": p,
        "ratio": ratio,  # median over repeats of the median over pairs of genbench / plain
        "ratio_per_repeat": ratios,
        "target_ratio": 1.10,
    }
    write_figures(args.out, figures, device)
    print(
        f"genbench {g * 1e3:.1f} ms/epoch, plain PyTorch {p * 1e3:.1f} ms/epoch, "
        f"ratio {ratio:.3f} ({device})"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
