"""Harness overhead: seconds per training epoch of the genbench VAE (Lightning Trainer with all of
genbench's callbacks, logging and checkpointing) against a plain PyTorch loop doing the same work:
same network, data on the same device, batch size and optimizer, a validation pass per epoch and
a copy of the best weights kept, as early stopping needs.

    python benchmarks/overhead.py [--repeats 3] [--out benchmarks/out/overhead.json]

genbench trains with its default preset until early stopping; the plain loop then runs as many
epochs. Both run in this one process, alternating which goes first, and each epoch is timed on its
own; the figure is the median over repeats of the ratio of median epoch times (target: <= 1.15).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl
import torch

from genbench.config import resolve
from genbench.data.loader import IndexBatches, TensorDataModule
from genbench.runner import build_model, describe_device, load_dataset, versions
from genbench.training import make_trainer


class EpochTimer(pl.Callback):
    """Wall time of each training epoch, its validation pass included."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.seconds.append(time.perf_counter() - self.start)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def genbench_epochs(cfg, data) -> tuple[list[float], str]:
    model = build_model(cfg, data)
    with tempfile.TemporaryDirectory() as tmp:
        trainer, _, _ = make_trainer(cfg.trainer, Path(tmp), progress=False)
        timer = EpochTimer()
        trainer.callbacks.append(timer)
        module = TensorDataModule(data, cfg.trainer.batch_size, cfg.eval.batch_size, cfg.seed)
        trainer.fit(model, datamodule=module)
    return timer.seconds, str(model.device)


def plain_epochs(cfg, data, epochs: int, device: torch.device) -> list[float]:
    model = build_model(cfg, data).to(device)
    optimizer = model.configure_optimizers()
    train, val = data.train.to(device), data.val.to(device)
    seconds, best_loss, best_state = [], float("inf"), None
    for epoch in range(epochs):
        sync(device)
        start = time.perf_counter()
        model.train()
        batches = IndexBatches(
            train, cfg.trainer.batch_size, shuffle=True, seed=cfg.seed, epoch=lambda e=epoch: e
        )
        for x, _ in batches:
            loss = model.loss(x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            total = sum(model.loss(x) * len(x) for x, _ in IndexBatches(val, cfg.eval.batch_size))
            val_loss = (total / len(val)).item()
        if val_loss < best_loss:
            best_loss = val_loss
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        sync(device)
        seconds.append(time.perf_counter() - start)
    assert best_state is not None
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/overhead.json"))
    args = parser.parse_args()

    cfg = resolve("vae", args.dataset, seed=0)
    data = load_dataset(cfg)
    genbench_times, plain_times, ratios = [], [], []
    device_name = ""
    for repeat in range(args.repeats):
        # alternate which side goes first, so drift in the machine's speed hits both alike
        if repeat % 2:
            plain = plain_epochs(cfg, data, len(genbench_times[-1]), torch.device(device_name))
            times, device_name = genbench_epochs(cfg, data)
        else:
            times, device_name = genbench_epochs(cfg, data)
            plain = plain_epochs(cfg, data, len(times), torch.device(device_name))
        genbench_times.append(times[1:])  # the first epoch carries one-off set-up on both sides
        plain_times.append(plain[1:])
        ratios.append(statistics.median(times[1:]) / statistics.median(plain[1:]))
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
        "ratio": ratio,  # median over repeats of (genbench median epoch / plain median epoch)
        "ratio_per_repeat": ratios,
        "target_ratio": 1.15,
        "device": describe_device(torch.device(device_name)),
        "versions": versions(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"genbench {g * 1e3:.1f} ms/epoch, plain PyTorch {p * 1e3:.1f} ms/epoch, "
        f"ratio {ratio:.3f} ({device_name})"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
