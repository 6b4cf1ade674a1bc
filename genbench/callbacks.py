"""The callbacks genbench's Trainer runs around each step and epoch (genbench.training builds it).

Checkpoints: `best.ckpt` (weights of the best validation epoch, kept in memory while training and
written at its end) and `last.ckpt` (the full training state, the best weights included, at an
epoch end, at most every 30 s and at the end, so Ctrl-C or a kill leaves a point to resume from).
Seeds, the shuffle order and the RNG state are restored with the checkpoint, so a resumed run
ends with the same numbers. Progress: a bar on a terminal, plain lines in logs.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.profilers import PassThroughProfiler
from torch import Tensor

from genbench.estimate import duration, find
from genbench.results.store import atomic_path


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
            with atomic_path(self.path) as partial:  # never a half-written best.ckpt
                torch.save(state, partial)

    def _keep(self, pl_module: Any, score: float, epoch: int) -> None:
        self.score, self.epoch = score, epoch
        self.state_dict_ = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        return {"score": self.score, "epoch": self.epoch, "weights": self.state_dict_}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.score, self.epoch = state_dict["score"], state_dict["epoch"]
        self.state_dict_ = state_dict["weights"]


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
