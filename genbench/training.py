"""The engineering side of a run: one Lightning Trainer with genbench's callbacks.

Checkpoints: `best.ckpt` (weights of the best validation epoch, used for evaluation) and
`last.ckpt` (the full training state at an epoch end, at most every 10 s and at the end, so Ctrl-C
or a kill leaves a point to resume from). Seeds, the shuffle order and the
RNG state are restored with the checkpoint, so a resumed run ends with the same numbers.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Protocol

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from torch import Tensor, nn

from genbench.data.base import Dataset
from genbench.data.loader import TensorDataModule
from genbench.estimate import TimeEstimate, duration, find


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

    def accumulate_loss(self, stage: str, loss: torch.Tensor, count: int) -> None:
        """Add a batch's mean loss (over `count` examples) to `stage`'s running total."""
        totals = self.__dict__.setdefault("_loss_totals", {})
        total, seen = totals.get(stage, (0.0, 0))
        totals[stage] = (total + loss.detach() * count, seen + count)

    def on_validation_epoch_end(self) -> None:
        """Log f"{stage}_loss" for every stage seen this epoch (train_loss, val_loss, ...);
        sync_dist averages them over processes in multi-device runs."""
        totals = self.__dict__.setdefault("_loss_totals", {})
        for stage, (total, count) in totals.items():
            self.log(f"{stage}_loss", total / count, prog_bar=True, sync_dist=True)
        totals.clear()


class Diverged(Exception):
    """Training produced a non-finite loss; the run is recorded as diverged, not as a crash."""

    def __init__(self, step: int, loss: float) -> None:
        super().__init__(f"non-finite training loss ({loss}) at step {step}")
        self.step = step


class DivergenceGuard(Callback):
    """Stop at the first non-finite training loss; `step` counts optimizer steps from 1."""

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and not torch.isfinite(loss).all():
            raise Diverged(trainer.global_step, float(loss.detach().float().mean()))


class TrainClock(Callback):
    """Training wall time summed over resumes (kept in the checkpoint)."""

    def __init__(self) -> None:
        self.previous = 0.0
        self.start: float | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.previous + (0.0 if self.start is None else time.perf_counter() - self.start)

    def state_dict(self) -> dict[str, float]:
        return {"seconds": self.seconds}

    def load_state_dict(self, state_dict: dict[str, float]) -> None:
        self.previous = float(state_dict["seconds"])


class RNGState(Callback):
    """Save and restore torch's RNG states with the checkpoint (tensors: loadable weights-only)."""

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["cpu"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


class LastCheckpoint(Callback):
    """Write the full training state to `path` at an epoch end, at most every `every_seconds`,
    and when training ends: the point a killed or interrupted run resumes from.

    Epoch boundaries only, so a resumed run replays whole epochs with the same shuffles.
    """

    every_seconds = 10.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last = -math.inf

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if time.perf_counter() - self.last >= self.every_seconds:
            self._save(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._save(trainer)

    def _save(self, trainer: pl.Trainer) -> None:
        trainer.save_checkpoint(self.path)
        self.last = time.perf_counter()


class EpochBar(TQDMProgressBar):
    """Lightning's bar on a terminal, its epochs counted from 1 of max as the plain lines are,
    without its logger's version number (v_num), which means nothing to a genbench user, and
    with the estimated time left of the whole run (`run_left`) where the trainer estimates it."""

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.set_description(
            f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
        )

    def get_metrics(self, trainer: pl.Trainer, pl_module: Any) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        estimate = find(trainer)
        left = None if estimate is None else estimate.seconds_left(trainer)
        if left:
            metrics["run_left"] = duration(left)
        return metrics


class EpochLines(Callback):
    """Plain progress lines for logs and pipes (no TTY): at most one line per `every` seconds,
    ending with the training time so far and the estimated time left of the whole run (eta)."""

    def __init__(self, every: float = 2.0, stream: Any = None) -> None:
        self.every = every
        self.stream = stream or sys.stderr
        self.last = -math.inf
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        now = time.perf_counter()
        if not trainer.is_global_zero or (now - self.last < self.every and not trainer.should_stop):
            return
        self.last = now
        metrics = trainer.callback_metrics
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"]
        parts += [f"{name} {float(value):.4f}" for name, value in sorted(metrics.items())]
        parts.append(f"{now - self.start:.1f}s")
        estimate = find(trainer)
        left = None if estimate is None else estimate.seconds_left(trainer)
        if left:
            parts.append(f"eta {duration(left)}")
        print("  ".join(parts), file=self.stream, flush=True)


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
) -> tuple[pl.Trainer, ModelCheckpoint, TrainClock]:
    """A Trainer writing checkpoints and logs under run_dir; returns it with its best-checkpoint
    callback and its clock. `monitor` (lower is better) picks best.ckpt and drives early
    stopping; with None, best.ckpt is the last epoch and training runs its full length. After
    its first steps it prints its estimated training time (genbench.estimate), with `advice`
    (quicker choices) when that is long for a CPU."""
    quiet_lightning()
    if progress is None:
        progress = sys.stderr.isatty()
    best = ModelCheckpoint(  # weights only: what evaluation needs, cheap to write each improvement
        dirpath=run_dir / "checkpoints",
        filename="best",
        monitor=monitor,
        mode="min",
        save_top_k=1,
        save_weights_only=True,
        enable_version_counter=False,
        auto_insert_metric_name=False,
    )
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
        if best.best_model_path:
            state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
            module.load_state_dict(state["state_dict"])
    return module.cpu().eval(), clock.seconds
