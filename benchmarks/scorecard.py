"""Seconds to score n generated samples on digits with the sample-quality scorecard (feature
extraction, FD, KD, precision/recall, density/coverage, classifier score, memorization).

    python benchmarks/scorecard.py [--n 1000] [--repeats 5] [--out benchmarks/out/scorecard.json]

The samples scored are uniform noise over the levels (what is scored does not change the work);
the feature extractor is trained once into benchmarks/out/features and not timed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from common import write_figures

from genbench.config import resolve
from genbench.evaluation.features import feature_space
from genbench.evaluation.scorecard import sample_quality
from genbench.runner import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/scorecard.json"))
    args = parser.parse_args()

    cfg = resolve("vae", "digits")
    data = load_dataset(cfg)
    space = feature_space("digits", data, cfg.data, args.out.parent / "features")
    generator = torch.Generator().manual_seed(0)
    samples = torch.randint(17, (args.n, 1, 8, 8), generator=generator, dtype=torch.uint8)
    seconds = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        sample_quality(samples, data, space, seed=0)
        seconds.append(time.perf_counter() - started)
    figures = {
        "benchmark": "scorecard",
        "dataset": "digits",
        "n_samples": args.n,
        "n_test": len(data.test),
        "seconds_median": statistics.median(seconds),
        "seconds_all": seconds,
    }
    write_figures(args.out, figures)
    print(
        f"scoring {args.n} samples on digits: {statistics.median(seconds):.2f} s"
        f" (median of {args.repeats})"
    )


if __name__ == "__main__":
    main()
