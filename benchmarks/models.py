"""Per generative model: training throughput (examples/s) of genbench's Lightning path against a
plain PyTorch loop over the same network, data and batches, and sampling throughput (samples/s).

    python benchmarks/models.py [--models vae,ae,gan,ddpm,transformer] [--epochs 8]
                                [--repeats 3] [--samples 500] [--out benchmarks/out/models.json]

Each model trains with its default preset for --epochs epochs (early stopping off) on both
sides, in one process, epoch by epoch in turn (a genbench epoch, then a plain one), so that a
change in the machine's speed falls on both sides of each pair; the first pair (set-up) is not
counted. A repeat's ratio is the median over its pairs of genbench's examples/s over the plain
loop's (1.0 is no overhead, lower is overhead); the figure is the median over --repeats
trainings, with their range.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from common import paired_epochs, sync, write_figures

from genbench.config import resolve
from genbench.registry import MODELS
from genbench.runner import build_model, load_dataset


def sampling_rate(cfg, data, n: int, device: torch.device) -> float:
    """Samples per second of a freshly built model (sampling cost does not depend on training)."""
    model = build_model(cfg, data).to(device).eval()
    generator = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        model.sample(2, generator=generator)  # warm-up
        sync(device)
        start = time.perf_counter()
        model.sample(n, generator=generator)
        sync(device)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/models.json"))
    args = parser.parse_args()

    rows = []
    for name in args.models.split(","):
        overrides = ["trainer.patience=0", f"trainer.max_epochs={args.epochs}"]
        cfg = resolve(name, args.dataset, 0, overrides)
        data = load_dataset(cfg)
        n_train = len(data.train)
        genbench_rates, plain_rates, ratios = [], [], []
        for _ in range(args.repeats):
            genbench_times, plain_times, device = paired_epochs(cfg, data)
            pairs = list(zip(genbench_times[1:], plain_times[1:], strict=True))
            ratios.append(statistics.median(p / g for g, p in pairs))
            genbench_rates.append(n_train / statistics.median(genbench_times[1:]))
            plain_rates.append(n_train / statistics.median(plain_times[1:]))
        genbench_rate = statistics.median(genbench_rates)
        plain_rate = statistics.median(plain_rates)
        row = {
            "model": name,
            "train_examples_per_second": genbench_rate,
            "plain_pytorch_examples_per_second": plain_rate,
            "ratio": statistics.median(ratios),
            "ratio_range": [min(ratios), max(ratios)],
            "samples_per_second": sampling_rate(cfg, data, args.samples, device),
        }
        if name == "ddpm":
            ddim = resolve(name, args.dataset, 0, [*overrides, "model.sample_steps=50"])
            row["samples_per_second_ddim50"] = sampling_rate(ddim, data, args.samples, device)
        rows.append(row)
        print(
            f"{name:12s} train {genbench_rate:9.1f} ex/s vs plain {plain_rate:9.1f} ex/s "
            f"(ratio {row['ratio']:.2f}, {min(ratios):.2f}-{max(ratios):.2f})   "
            f"sampling {row['samples_per_second']:9.1f} samples/s",
            flush=True,
        )
    figures = {
        "benchmark": "models",
        "dataset": args.dataset,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "rows": rows,
    }
    write_figures(args.out, figures, device)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
