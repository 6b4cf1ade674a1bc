"""bayes-ddpm's accuracy against the cost of its likelihood: one fit, then the test split
predicted with the DDPM's bound over all T steps and with its stratified estimates from K steps.

    python benchmarks/bayes_ddpm.py [--dataset digits] [--steps all 100 50 20 10 5]
                                    [--skip-passes] [--set KEY=VALUE ...] [--out FILE.json]

The fit is `genbench run --model bayes-ddpm`'s (train split, checkpoints picked on val, seed 0).
No weight depends on `model.bound_steps`, so the fitted class models serve every K: for each,
the script sets it and times predict_proba_and_labels on the test split (one pass over the
classes' likelihoods), as `genbench run` times predict_seconds; every K uses the same draws for
every class. Before the fit, the full bound of 50 test images is timed with network passes of
several sizes (VALUES_PER_PASS), alternating.
The load average is recorded beside each timing: on a shared machine it moves them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from common import write_figures

from genbench.classifiers.base import features
from genbench.classifiers.bayes import tightest
from genbench.config import resolve
from genbench.evaluation.classification import classification_metrics
from genbench.models import ddpm
from genbench.registry import lookup
from genbench.runner import load_dataset


def load() -> float:
    return os.getloadavg()[0]


def time_passes(cfg, data, sizes: list[int], repeats: int) -> list[dict]:
    """Seconds of the full bound of 50 test images per VALUES_PER_PASS (median of repeats,
    alternating); an untrained model, which costs the same."""
    torch.manual_seed(0)
    model = ddpm.DDPM(data.spec, cfg.model).eval()
    x = data.test.x[:50]
    seconds: dict[int, list[float]] = {size: [] for size in sizes}
    default = ddpm.VALUES_PER_PASS
    with torch.no_grad():
        model.log_prob(x[:2])  # warm-up
        for _ in range(repeats):
            for size in sizes:
                ddpm.VALUES_PER_PASS = size
                start = time.perf_counter()
                model.log_prob(x)
                seconds[size].append(time.perf_counter() - start)
    ddpm.VALUES_PER_PASS = default
    return [
        {
            "values_per_pass": size,
            "images_per_pass": max(1, size // (len(x) * data.spec.dim)) * len(x),
            "seconds_median": statistics.median(seconds[size]),
            "seconds": seconds[size],
        }
        for size in sizes
    ]


def use_bound_steps(estimator, steps: int | None, probe: torch.Tensor) -> None:
    """The fitted classifier with model.bound_steps = steps (None: all T terms) in each class
    model, and the likelihood kind it then classifies with."""
    for model in estimator.models_:
        model.config = dataclasses.replace(model.config, bound_steps=steps)
    with torch.no_grad():
        estimator.likelihood_kind_ = tightest(estimator.models_[0].log_prob_estimates(probe, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--steps", nargs="+", default=["all", "100", "50", "20", "10", "5"])
    parser.add_argument("--skip-passes", action="store_true")
    parser.add_argument("--set", nargs="*", default=[], help="preset overrides, section.key=value")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/bayes_ddpm.json"))
    args = parser.parse_args()
    steps = [None if s == "all" else int(s) for s in args.steps]

    cfg = resolve("bayes-ddpm", args.dataset, 0, args.set)
    data = load_dataset(cfg)
    figures: dict = {"dataset": args.dataset, "overrides": args.set}
    figures["threads"] = torch.get_num_threads()
    if not args.skip_passes:
        sizes = [2**14, 2**16, 2**18, 2**20]
        figures["passes"] = time_passes(cfg, data, sizes, repeats=3)
        for row in figures["passes"]:
            print(f"VALUES_PER_PASS {row['values_per_pass']:>8} ({row['images_per_pass']:>5} "
                  f"images a pass): {row['seconds_median']:.2f} s", flush=True)  # fmt: skip

    (x_train, y_train), (x_val, y_val) = features(data.train), features(data.val)
    x_test, y_test = features(data.test)
    estimator = lookup("model", "bayes-ddpm").load().build(cfg, data.spec)
    start, load_before = time.perf_counter(), load()
    estimator.fit(x_train, y_train, validation=(x_val, y_val))
    figures["fit"] = {"seconds": time.perf_counter() - start, "load": [load_before, load()]}
    print(f"fit {figures['fit']['seconds']:.1f} s", flush=True)

    rows, reference = [], None
    for k in steps:
        use_bound_steps(estimator, k, data.test.x[:1])
        start, load_before = time.perf_counter(), load()
        proba, predicted = estimator.predict_proba_and_labels(x_test)
        seconds = time.perf_counter() - start
        metrics = classification_metrics(proba, predicted, y_test, data.spec.num_classes)
        reference = predicted if reference is None else reference
        row = {
            "bound_steps": k,
            "likelihood_kind": estimator.likelihood_kind_,
            "accuracy": metrics["accuracy"],
            "nll": metrics["nll"],
            "predict_seconds": seconds,
            "agreement_with_first": float(np.mean(predicted == reference)),
            "load": [load_before, load()],
        }
        rows.append(row)
        print(f"{row['likelihood_kind']:>8}: accuracy {row['accuracy']:.4f}, nll "
              f"{row['nll']:.4f}, predict {seconds:.1f} s", flush=True)  # fmt: skip
    for row in rows:
        row["speedup_over_first"] = rows[0]["predict_seconds"] / row["predict_seconds"]
    figures["predict"] = rows
    write_figures(args.out, figures)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
