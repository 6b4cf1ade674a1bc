"""How long training will take: measured after its first steps, said before the first epoch ends.

The pace is the wall time of training steps after a short warm-up (the first steps carry one-time
costs), each epoch's validation is measured once one has run (guessed from the pace before), and
the work left is the epochs (or steps) that max_epochs and max_steps allow. Early stopping can
only end a run sooner, so the figure is an upper bound for runs that use it.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

# a CPU run whose estimate is past this is told so, with quicker choices
SLOW_ON_CPU_SECONDS = 15 * 60
# what `genbench run` suggests then; other callers (an estimator, the feature extractor) say none
QUICKER = (
    "a GPU (--set trainer.accelerator=gpu), --set trainer.preset=quick (2 epochs, a smoke "
    "test), or fewer epochs (--set trainer.max_epochs=N)"
)
# a validation example's cost as a share of a training example's (a forward pass of the
# forward and backward): the guess used until the first validation has been timed
FORWARD_SHARE = 1 / 3


def estimate_seconds(
    steps_done: int,
    seconds: float,
    steps_per_epoch: float,
    epochs_left: float,
    val_seconds: float = 0.0,
) -> float:
    """Seconds the rest of training takes at the pace measured so far.

    `steps_done` training steps (batches) took `seconds`, validation excluded, so a step takes
    s = seconds / steps_done. `epochs_left` epochs of `steps_per_epoch` steps remain, fractional
    for the part of the current epoch still to run (54.25: a quarter of this epoch, then 54
    more), and every epoch begun ends with a validation of `val_seconds`:

        t = epochs_left * steps_per_epoch * s + ceil(epochs_left) * val_seconds
    """
    if steps_done <= 0:
        raise ValueError(f"steps_done must be > 0, got {steps_done}")
    validations = math.ceil(epochs_left - 1e-9) if epochs_left > 0 else 0
    return epochs_left * steps_per_epoch * seconds / steps_done + validations * val_seconds


def epochs_left(
    epoch: int,
    batches_done: int,
    batches_per_epoch: float,
    max_epochs: int | None,
    step: int = 0,
    max_steps: int = -1,
    steps_per_batch: float = 1.0,
) -> float:
    """Epochs of training left, fractional, after `batches_done` batches of epoch `epoch`
    (counted from 0): the fewer of what `max_epochs` leaves (None or -1: no limit) and what
    `max_steps` leaves (-1: no limit) from optimizer step `step`, at `steps_per_batch` optimizer
    steps a batch (2 for a GAN's two optimizers):

        min(max_epochs - epoch - batches_done / batches_per_epoch,
            (max_steps - step) / (steps_per_batch * batches_per_epoch))
    """
    by_epochs = math.inf
    if max_epochs is not None and max_epochs >= 0:
        by_epochs = max_epochs - epoch - batches_done / batches_per_epoch
    by_steps = math.inf
    if max_steps >= 0 and steps_per_batch > 0:
        by_steps = (max_steps - step) / (steps_per_batch * batches_per_epoch)
    return max(0.0, min(by_epochs, by_steps))


def duration(seconds: float) -> str:
    """'8.3 s', '42 s', '4 min 10 s', '15 min', '2 h 5 min'."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 59.5:
        return f"{round(seconds)} s"
    if seconds < 3570:
        minutes, secs = divmod(round(seconds), 60)
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


class TimeEstimate(Callback):
    """Says how long training will take once its pace is known, and keeps the time left of the
    whole run for the progress bar and the epoch lines (`seconds_left`).

    The pace leaves out the first `skip` batches (one-time costs) and is measured over at least
    `settle_batches` batches and `settle_seconds`, or up to the first epoch's last batch if that
    comes sooner: the line comes before the first epoch's validation and epoch line. A resumed
    run estimates what is left from where it resumed. `estimated` is the total training seconds
    estimated (earlier attempts included, from `clock`), recorded beside the measured time. Only
    rank 0 prints; `advice` (e.g. QUICKER) is added to the warning of a long run on a CPU.
    """

    skip = 2
    settle_seconds = 2.0
    settle_batches = 3  # a single batch's time varies by half on a shared machine

    def __init__(self, clock: Any = None, advice: str | None = None, stream: Any = None) -> None:
        self.clock = clock  # a TrainClock: the seconds trained before this attempt
        self.advice = advice
        self.stream = stream
        self.estimated: float | None = None
        self.reset(0, 0)

    def reset(self, step: int, epoch: int) -> None:
        self.started = time.perf_counter()
        self.first_step, self.first_epoch = step, epoch
        self.batches = self.epoch_batches = 0
        self.mark = (self.started, 0, 0.0)  # time, batches, validation seconds where pace begins
        self.val_total, self.val_count, self.val_started = 0.0, 0, None
        self.val_first = 0.0  # the first validation's seconds, one-time costs included
        self.validated = False  # this epoch's validation has run
        self.val_examples, self.batch_size = 0, 0
        self.said = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self.reset(trainer.global_step, trainer.current_epoch)
        self.val_examples = examples(trainer.val_dataloaders, trainer.num_val_batches)
        self.batch_size = getattr(trainer.train_dataloader, "batch_size", 0) or 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self.epoch_batches = 0
        self.validated = False

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.batches += 1
        self.epoch_batches += 1
        if self.said:
            return
        now = time.perf_counter()
        last = self.epoch_batches >= trainer.num_training_batches
        if self.batches == self.skip and not last:
            self.mark = (now, self.batches, self.val_total)
        # the pace is of batches after the warm-up only: a slow first batch (seconds of one-time
        # costs) once made a 4-minute run announce 10 minutes
        elif last or (
            self.batches >= self.skip + self.settle_batches
            and now - self.mark[0] >= self.settle_seconds
        ):
            self.said = True
            self.announce(trainer)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self.val_started = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if self.val_started is not None:
            seconds = time.perf_counter() - self.val_started
            self.val_first = self.val_first or seconds
            self.val_total += seconds
            self.val_count += 1
            self.val_started = None
            self.validated = True

    def epochs_left(self, trainer: pl.Trainer, steps: bool = True) -> float:
        """Epochs left (fractional) by max_epochs and, with `steps`, by max_steps."""
        per_batch = (trainer.global_step - self.first_step) / max(self.batches, 1)
        return epochs_left(
            trainer.current_epoch,
            self.epoch_batches,
            trainer.num_training_batches,
            trainer.max_epochs,
            trainer.global_step,
            trainer.max_steps if steps else -1,
            per_batch,
        )

    def seconds_left(self, trainer: pl.Trainer) -> float | None:
        """Estimated seconds of training left; None until the pace has been measured."""
        if not self.said:
            return None
        if trainer.should_stop:
            return 0.0
        per_epoch = trainer.num_training_batches
        now = time.perf_counter()
        t0, b0, v0 = self.mark
        done = self.batches - b0
        if done <= 0 or not 0 < per_epoch < math.inf:
            return None
        running = 0.0 if self.val_started is None else now - self.val_started
        seconds = now - t0 - (self.val_total - v0) - running
        if self.val_count > 1:  # the first, with its one-time costs, left out
            val_seconds = (self.val_total - self.val_first) / (self.val_count - 1)
        elif self.val_count:
            val_seconds = self.val_total
        elif self.batch_size:
            val_seconds = FORWARD_SHARE * self.val_examples * seconds / done / self.batch_size
        else:
            val_seconds = 0.0
        left = estimate_seconds(done, seconds, per_epoch, self.epochs_left(trainer), val_seconds)
        if self.epoch_batches >= per_epoch and not self.validated:  # this epoch's is still due
            left += max(val_seconds - running, 0.0)
        return left

    def announce(self, trainer: pl.Trainer) -> None:
        """The estimate line, and a warning when it is long for a CPU (rank 0 only)."""
        left = self.seconds_left(trainer)
        if left is None:
            return
        elapsed = time.perf_counter() - self.started
        self.estimated = getattr(self.clock, "previous", 0.0) + elapsed + left
        if not trainer.is_global_zero:
            return
        by_steps = self.epochs_left(trainer) < self.epochs_left(trainer, steps=False)
        if by_steps:  # optimizer steps, as Lightning counts them against max_steps
            first, last, unit = self.first_step + 1, trainer.max_steps, "steps"
        else:
            first, last, unit = self.first_epoch + 1, trainer.max_epochs, "epochs"
        if self.first_epoch or self.first_step:
            text = f"estimated training time left: {duration(elapsed + left)} for {unit} "
            text += f"{first}-{last} (resumed)"
        else:
            unit = unit if last != 1 else unit[:-1]  # "for 1 epoch"
            text = f"estimated training time: {duration(elapsed + left)} for {last} {unit}"
        if trainer.early_stopping_callbacks:
            text += " (at most; early stopping may end it sooner)"
        lines = [f"genbench: {text}"]
        if trainer.strategy.root_device.type == "cpu" and elapsed + left > SLOW_ON_CPU_SECONDS:
            quicker = f"; quicker: {self.advice}" if self.advice else ""
            limit = duration(SLOW_ON_CPU_SECONDS)
            lines.append(f"genbench: warning: that is over {limit} of training on a CPU{quicker}")
        from tqdm import tqdm  # writes above a terminal's progress bar, or plainly

        stream = self.stream or sys.stderr
        for line in lines:
            tqdm.write(line, file=stream)
        stream.flush()


def examples(loaders: Any, batches: Any) -> int:
    """Examples a validation pass sees: its batches times each loader's batch size, at most
    the size of the loader's data (a torch DataLoader's `dataset`, genbench's `split`); 0 for
    a loader that does not say its batch size."""
    if loaders is None:
        return 0
    loaders = loaders if isinstance(loaders, (list, tuple)) else [loaders]
    counts = batches if isinstance(batches, (list, tuple)) else [batches]
    total = 0
    for loader, count in zip(loaders, counts, strict=False):
        if not math.isfinite(count):
            continue
        n = int(count) * (getattr(loader, "batch_size", 0) or 0)
        data = getattr(loader, "dataset", getattr(loader, "split", None))
        with contextlib.suppress(TypeError):  # data without a length
            n = min(n, len(data))
        total += n
    return total


def find(trainer: pl.Trainer) -> TimeEstimate | None:
    """The trainer's TimeEstimate callback, if it has one."""
    return next((c for c in trainer.callbacks if isinstance(c, TimeEstimate)), None)
