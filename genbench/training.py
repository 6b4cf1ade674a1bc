"""The engineering side of a run: one Lightning Trainer with genbench's callbacks
(genbench.callbacks: checkpoints, divergence, clock, progress), the epoch-loss logging the
modules share, seeding, and the cross-entropy training of a classifier network."""

from __future__ import annotations

import contextlib
import logging
import random
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Protocol

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.loggers import CSVLogger
from torch import Tensor, nn

from genbench.callbacks import (
    BestWeights,
    DivergenceGuard,
    EpochBar,
    EpochLines,
    LastCheckpoint,
    RNGState,
    TrainClock,
    Unprofiled,
)
from genbench.data.base import Dataset
from genbench.data.loader import TensorDataModule
from genbench.estimate import TimeEstimate


class TrainerSettings(Protocol):
    """What `make_trainer` reads: genbench.config.TrainerConfig, or any object with these."""

    max_epochs: int
    max_steps: int  # -1: no limit
    batch_size: int
    patience: int  # 0: no early stopping
    accelerator: str
    devices: str
    strategy: str
    precision: str
    gradient_clip_val: float  # 0: no clipping
    deterministic: bool


class EpochLossLogging:
    """LightningModule mixin: accumulate each stage's loss and log its epoch mean once, when
    validation closes the epoch. Lightning's per-step self.log costs about a millisecond a call,
    a large share of a small model's training step."""

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets _current_fx_name around each of the ~40 hooks it calls per step;
        # nn.Module's __setattr__ (1.8 us against 0.2 us) checks for parameters, which a
        # string never is
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def accumulate_loss(self, stage: str, loss: torch.Tensor, count: int) -> None:
        """Keep a batch's mean loss (over `count` examples) for `stage`'s epoch mean: no tensor
        work per step (each small op costs a small model's step more than its own time)."""
        batches = self.__dict__.setdefault("_loss_batches", {})
        batches.setdefault(stage, []).append((loss.detach(), count))

    def on_validation_epoch_end(self) -> None:
        """Log f"{stage}_loss" for every stage seen this epoch (train_loss, val_loss, ...): the
        example-weighted mean of its batches' losses; sync_dist averages them over processes in
        multi-device runs."""
        batches = self.__dict__.setdefault("_loss_batches", {})
        for stage, pairs in batches.items():
            losses = torch.stack([loss.float().reshape(()) for loss, _ in pairs])  # (batches,)
            counts = torch.tensor([n for _, n in pairs], device=losses.device, dtype=losses.dtype)
            mean = (losses * counts).sum() / counts.sum()
            self.log(f"{stage}_loss", mean, prog_bar=True, sync_dist=True)
        batches.clear()


def quiet_lightning() -> None:
    """Keep Lightning's start-up chatter and known-harmless warnings out of genbench's output."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in (
        ".*does not have many workers.*",
        ".*smaller than the logging interval.*",
        ".*Experiment logs directory .* exists and is not empty.*",
        ".*Checkpoint directory .* exists and is not empty.*",
        ".*is an invalid version and will not be supported.*",
        ".*You are using a CUDA device .* that has Tensor Cores.*",
        ".*isinstance\\(treespec, LeafSpec\\).*",
    ):
        warnings.filterwarnings("ignore", message=pattern)


def make_trainer(
    cfg: TrainerSettings,
    run_dir: Path,
    progress: bool | None = None,
    monitor: str | None = "val_loss",
    advice: str | None = None,
) -> tuple[pl.Trainer, BestWeights, TrainClock]:
    """A Trainer writing checkpoints and logs under run_dir; returns it with its best-checkpoint
    callback and its clock. `monitor` (lower is better) picks best.ckpt and drives early
    stopping; with None, best.ckpt is the last epoch and training runs its full length. After
    its first steps it prints its estimated training time (genbench.estimate), with `advice`
    (quicker choices) when that is long for a CPU."""
    quiet_lightning()
    if progress is None:
        progress = sys.stderr.isatty()
    best = BestWeights(run_dir / "checkpoints" / "best.ckpt", monitor)
    clock = TrainClock()
    last = LastCheckpoint(run_dir / "checkpoints" / "last.ckpt")
    estimate = TimeEstimate(clock, advice)
    callbacks: list[Callback] = [best, clock, RNGState(), DivergenceGuard(), last, estimate]
    if cfg.patience > 0 and monitor is not None:
        callbacks.append(EarlyStopping(monitor=monitor, mode="min", patience=cfg.patience))
    callbacks.append(EpochBar() if progress else EpochLines())
    devices: Any = int(cfg.devices) if cfg.devices.isdigit() else cfg.devices
    trainer = pl.Trainer(
        accelerator=cfg.accelerator,
        devices=devices,
        strategy=cfg.strategy,
        precision=cfg.precision,
        max_epochs=cfg.max_epochs,
        max_steps=cfg.max_steps,
        gradient_clip_val=cfg.gradient_clip_val or None,
        deterministic=cfg.deterministic,
        logger=CSVLogger(run_dir, name="logs"),  # logs/version_N/metrics.csv, one per attempt
        callbacks=callbacks,
        enable_progress_bar=progress,
        enable_model_summary=False,
        enable_checkpointing=False,  # BestWeights and LastCheckpoint write what a run keeps
        profiler=Unprofiled(),
        num_sanity_val_steps=0,
        log_every_n_steps=50,  # nothing is logged per step; a small value costs work each step
        default_root_dir=run_dir,
    )
    return trainer, best, clock


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch, numpy and Python's `random` as pl.seed_everything does, and give the caller
    its own global random states back afterwards: an estimator's numbers follow its
    `random_state` alone and it leaves the caller's random state as it found it."""
    states = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])


class ClassifierModule(EpochLossLogging, pl.LightningModule):
    """Cross-entropy training of any network that maps inputs to class logits."""

    monitor: ClassVar[str] = "val_loss"

    def __init__(self, net: nn.Module, lr: float, weight_decay: float) -> None:
        super().__init__()
        self.net = net
        self.lr = lr
        self.weight_decay = weight_decay

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _common_step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)  # nats per example
        self.accumulate_loss(stage, loss, len(x))
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._common_step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._common_step(batch, "val")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


def train_classifier(
    build_net: Callable[[], nn.Module],
    data: Dataset,
    lr: float,
    weight_decay: float,
    trainer: TrainerSettings,
    seed: int,
    work_dir: Path | None = None,
) -> tuple[ClassifierModule, float]:
    """Seed, build the network, train it with cross-entropy on data.train (inputs as the
    network takes them, labels 0..K-1) and keep the weights of the epoch with the best loss on
    data.val. Returns the module (on the CPU, in eval mode) and its training seconds. The
    global random states are left as they were."""
    with seeded(seed), tempfile.TemporaryDirectory() as tmp:
        module = ClassifierModule(build_net(), lr, weight_decay)
        directory = Path(work_dir or tmp)
        fit, best, clock = make_trainer(trainer, directory, monitor=module.monitor)
        fit.fit(module, datamodule=TensorDataModule(data, trainer.batch_size, 4096, seed))
        if best.state_dict_ is not None:
            module.load_state_dict(best.state_dict_)
    return module.cpu().eval(), clock.seconds
