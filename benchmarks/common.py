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


class PlainLoop:
    """The same training in a plain loop, one epoch at a time: the batches genbench draws, one
    validation pass and a copy of the best weights per epoch (as early stopping needs)."""

    def __init__(self, cfg, data, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.model = build_model(cfg, data).to(device)
        if isinstance(self.model, GAN):
            self.optimizers, self.step = self.model.configure_optimizers(), gan_step
        else:  # the optimizer's work; genbench's may add a schedule, which costs nothing per step
            c = self.model.config
            parameters = self.model.parameters()
            self.optimizers = [torch.optim.AdamW(parameters, lr=c.lr, weight_decay=c.weight_decay)]
            self.step = automatic_step
        self.train, self.val = data.train.to(device), data.val.to(device)
        self.epoch, self.steps, self.best_loss, self.best_state = 0, 0, float("inf"), None

    def run_epoch(self) -> float:
        """Train one epoch and validate; its wall seconds."""
        model, cfg, epoch = self.model, self.cfg, self.epoch
        sync(self.device)
        start = time.perf_counter()
        model.train()
        batches = IndexBatches(
            self.train, cfg.trainer.batch_size, shuffle=True, seed=cfg.seed, epoch=lambda: epoch
        )
        for index, (x, _) in enumerate(batches):
            self.step(model, self.optimizers, x, index)
            if hasattr(model, "average_weights"):  # the DDPM's, as its on_train_batch_end
                model.average_weights(self.steps)
            self.steps += 1
        model.eval()
        with torch.no_grad():
            val = IndexBatches(self.val, cfg.eval.batch_size)
            val_loss = float(sum(model.loss(x) * len(x) for x, _ in val) / len(self.val))
        if val_loss < self.best_loss:
            self.best_loss = val_loss
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        sync(self.device)
        self.epoch += 1
        return time.perf_counter() - start


class Interleave(pl.Callback):
    """After each genbench epoch (timed before this runs), one epoch of the plain loop."""

    def __init__(self, loop: PlainLoop) -> None:
        self.loop = loop
        self.seconds: list[float] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.seconds.append(self.loop.run_epoch())


def paired_epochs(cfg, data) -> tuple[list[float], list[float], torch.device]:
    """genbench's epochs and the plain loop's, alternating epoch by epoch in one process, so a
    change in the machine's speed falls on both sides of each pair; (genbench, plain) times."""
    model = build_model(cfg, data)
    with tempfile.TemporaryDirectory() as tmp:
        trainer, _, _ = make_trainer(cfg.trainer, Path(tmp), progress=False, monitor=model.monitor)
        timer = EpochTimer()
        plain = Interleave(PlainLoop(cfg, data, trainer.strategy.root_device))
        trainer.callbacks += [timer, plain]  # after genbench's own callbacks: their cost counts
        module = TensorDataModule(data, cfg.trainer.batch_size, cfg.eval.batch_size, cfg.seed)
        trainer.fit(model, datamodule=module)
    return timer.seconds, plain.seconds, model.device
