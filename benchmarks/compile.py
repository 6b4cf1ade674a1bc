"""Does torch.compile pay here? Per model: a training step's seconds with the eager loss against
torch.compile(model.loss) (forward and backward compiled, AdamW step eager), and the compile's
own cost (the first compiled step).

    python benchmarks/compile.py [--models vae,ddpm,transformer,flow] [--dataset digits]
                                 [--data-dir DIR] [--set KEY=VALUE ...] [--steps 40]
                                 [--out benchmarks/out/compile.json]

Both sides train a fresh model with the same seed on the same full batches; the figure is the
median step time after the first 10 steps. The step-time ratio says what compiling saves a step;
the compile seconds say how many steps it must save before it pays.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from common import sync, write_figures

from genbench.config import resolve
from genbench.data.loader import IndexBatches
from genbench.runner import build_model, describe_device, load_dataset


def step_times(cfg, data, compiled: bool, steps: int, device: torch.device) -> list[float]:
    """Seconds of each of `steps` training steps (loss, backward, AdamW) of a fresh model."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, data).to(device).train()
    loss_of = torch.compile(model.loss) if compiled else model.loss
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    train = data.train.to(device)
    batches = [x for x, _ in IndexBatches(train, cfg.trainer.batch_size, shuffle=True, seed=0)]
    batches = [x for x in batches if len(x) == cfg.trainer.batch_size]  # one shape: no recompile
    times = []
    for index in range(steps):
        sync(device)
        start = time.perf_counter()
        loss = loss_of(batches[index % len(batches)])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vae,ddpm,transformer,flow")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/compile.json"))
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    rows = []
    for name in args.models.split(","):
        cfg = resolve(name, args.dataset, 0, args.overrides)
        data = load_dataset(cfg, args.data_dir)
        eager = step_times(cfg, data, False, args.steps, device)
        compiled = step_times(cfg, data, True, args.steps, device)
        row = {
            "model": name,
            "eager_step_seconds": statistics.median(eager[10:]),
            "compiled_step_seconds": statistics.median(compiled[10:]),
            "compile_seconds": compiled[0] - eager[0],  # the first step, less eager's
        }
        row["speedup"] = row["eager_step_seconds"] / row["compiled_step_seconds"]
        saved = row["eager_step_seconds"] - row["compiled_step_seconds"]
        row["steps_to_pay"] = row["compile_seconds"] / saved if saved > 0 else None
        rows.append(row)
        print(
            f"{name}: eager {row['eager_step_seconds'] * 1e3:.1f} ms/step, compiled "
            f"{row['compiled_step_seconds'] * 1e3:.1f} ms/step ({row['speedup']:.2f}x), "
            f"compile {row['compile_seconds']:.1f} s"
            + (f", pays after {row['steps_to_pay']:.0f} steps" if row["steps_to_pay"] else ""),
            flush=True,
        )
    figures = {
        "benchmark": "compile",
        "dataset": args.dataset,
        "overrides": args.overrides,
        "threads": torch.get_num_threads(),
        "on": describe_device(device),
        "rows": rows,
    }
    write_figures(args.out, figures, device)


if __name__ == "__main__":
    main()
