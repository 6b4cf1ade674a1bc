"""Shared timing helpers for the benchmarks: genbench's Lightning path and a plain PyTorch loop
over the same network, data and batches, each epoch timed on its own."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch import Tensor

from genbench.data.loader import IndexBatches, TensorDataModule
from genbench.models.gan import GAN
from genbench.results.store import write_json_atomic
from genbench.runner import build_model, describe_device, versions
from genbench.training import make_trainer


def write_figures(path: Path, figures: dict, device: torch.device | None = None) -> None:
    """Write a benchmark's figures as JSON with the device (default: the CPU) and the versions
    that produced them."""
    device = device or torch.device("cpu")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {**figures, "device": describe_device(device), "versions": versions()})


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


def genbench_epochs(cfg, data) -> tuple[list[float], torch.device]:
    """Train as `genbench run` does (its Trainer, callbacks, logging, checkpoints); epoch times."""
    model = build_model(cfg, data)
    with tempfile.TemporaryDirectory() as tmp:
        trainer, _, _ = make_trainer(cfg.trainer, Path(tmp), progress=False, monitor=model.monitor)
        timer = EpochTimer()
        trainer.callbacks.append(timer)
        module = TensorDataModule(data, cfg.trainer.batch_size, cfg.eval.batch_size, cfg.seed)
        trainer.fit(model, datamodule=module)
    return timer.seconds, model.device


Step = Callable[[object, list[torch.optim.Optimizer], Tensor, int], None]


def automatic_step(model, optimizers: list[torch.optim.Optimizer], x: Tensor, index: int) -> None:
    """One optimizer step on the model's loss."""
    (optimizer,) = optimizers
    loss = model.loss(x)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def gan_step(model: GAN, optimizers: list[torch.optim.Optimizer], x: Tensor, index: int) -> None:
    """The GAN's alternating steps written out: D every batch, G every n_critic-th."""
    opt_g, opt_d = optimizers
    real, fake = model.real_and_fake(x)
    d_loss = model.critic_loss(real, fake) + model.penalty(real, fake)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    if (index + 1) % model.n_critic == 0:
        model.discriminator.requires_grad_(False)
        g_loss = model.generator_objective(len(x))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        model.discriminator.requires_grad_(True)


def plain_epochs(cfg, data, epochs: int, device: torch.device) -> list[float]:
    """The same training in a plain loop: the batches genbench draws, one validation pass and a
    copy of the best weights per epoch (as early stopping needs); epoch times."""
    model = build_model(cfg, data).to(device)
    if isinstance(model, GAN):
        optimizers, step = model.configure_optimizers(), gan_step
    else:  # the optimizer's work; genbench's may add a schedule, which costs nothing per step
        c = model.config
        optimizers = [torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)]
        step = automatic_step
    train, val = data.train.to(device), data.val.to(device)
    seconds, best_loss = [], float("inf")
    for epoch in range(epochs):
        sync(device)
        start = time.perf_counter()
        model.train()
        batches = IndexBatches(
            train, cfg.trainer.batch_size, shuffle=True, seed=cfg.seed, epoch=lambda e=epoch: e
        )
        for index, (x, _) in enumerate(batches):
            step(model, optimizers, x, index)
        model.eval()
        with torch.no_grad():
            total = sum(model.loss(x) * len(x) for x, _ in IndexBatches(val, cfg.eval.batch_size))
            val_loss = float(total / len(val))
        if val_loss < best_loss:
            best_loss = val_loss
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}  # noqa: F841
        sync(device)
        seconds.append(time.perf_counter() - start)
    return seconds
