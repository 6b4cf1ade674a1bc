"""The engineering side of a run: one Lightning Trainer with genbench's callbacks.

Checkpoints: `best.ckpt` (weights of the best validation epoch, kept in memory while training and
written at its end) and `last.ckpt` (the full training state, the best weights included, at an
epoch end, at most every 30 s and at the end, so Ctrl-C or a kill leaves a point to resume from).
Seeds, the shuffle order and the RNG state are restored with the checkpoint, so a resumed run
ends with the same numbers.
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
from lightning.pytorch.callbacks import Callback, EarlyStopping, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.profilers import PassThroughProfiler
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


class Diverged(Exception):
    """Training produced a non-finite loss; the run is recorded as diverged, not as a crash."""

    def __init__(self, step: int) -> None:
        super().__init__(f"non-finite training loss at step {step}")
        self.step = step


class Unprofiled(PassThroughProfiler):
    """Lightning's default no-op profiler without its cost: the default wraps each of the ~140
    hook and loop calls of a training step in a generator context manager (1.5 us each, about
    2% of a small model's step); this returns one shared empty context."""

    def profile(self, action_name: str) -> contextlib.AbstractContextManager:
        return NO_CONTEXT


NO_CONTEXT = contextlib.nullcontext()


class DivergenceGuard(Callback):
    """Stop at a non-finite training loss; `step` counts optimizer steps from 1.

    On the CPU each loss is read as it comes. On an accelerator, reading it would stall the
    device every step, so the first non-finite step is kept in a tensor there and read every
    `every` steps and at each epoch end: the recorded step is exact all the same.
    """

    every = 50

    def __init__(self) -> None:
        self.first: Tensor | None = None  # () int64 on the accelerator: the first bad step, or 0

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        loss = loss.detach()
        if loss.device.type == "cpu":
            if not math.isfinite(float(loss if loss.numel() == 1 else loss.sum())):
                raise Diverged(trainer.global_step)
            return
        if self.first is None:
            self.first = torch.zeros((), dtype=torch.int64, device=loss.device)
        bad = ~torch.isfinite(loss).all() & (self.first == 0)
        self.first = torch.where(bad, trainer.global_step, self.first)
        if trainer.global_step % self.every == 0:
            self._check()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._check()

    def _check(self) -> None:
        if self.first is not None and (step := int(self.first)) > 0:
            raise Diverged(step)


class BestWeights(Callback):
    """The weights of the epoch with the lowest `monitor` (the last epoch's when None), kept in
    memory as a plain loop keeps them, and written to `path` when training ends; they travel in
    last.ckpt too, so a resumed run keeps them. Writing each improvement to disk (Lightning's
    ModelCheckpoint) cost a small model about 4% of its training time."""

    def __init__(self, path: Path, monitor: str | None) -> None:
        self.path = path
        self.monitor = monitor
        self.score = math.inf
        self.epoch: int | None = None  # from 0, as Lightning counts
        self.state_dict_: dict[str, Tensor] | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if self.monitor is None or trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        score = math.nan if value is None else float(value)
        if score < self.score:  # NaN never improves
            self._keep(pl_module, score, trainer.current_epoch)

    def on_train_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if self.monitor is None:  # the epoch just ended: Lightning has counted past it
            self._keep(pl_module, math.nan, max(trainer.current_epoch - 1, 0))
        if self.state_dict_ is not None and trainer.is_global_zero:
            state = {"state_dict": self.state_dict_, "epoch": self.epoch, "score": self.score}
            save_atomic(state, self.path)

    def _keep(self, pl_module: Any, score: float, epoch: int) -> None:
        self.score, self.epoch = score, epoch
        self.state_dict_ = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        return {"score": self.score, "epoch": self.epoch, "weights": self.state_dict_}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.score, self.epoch = state_dict["score"], state_dict["epoch"]
        self.state_dict_ = state_dict["weights"]


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file beside `path`, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    partial.replace(path)


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

    every_seconds = 30.0

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
