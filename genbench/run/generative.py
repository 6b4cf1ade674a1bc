"""Train a generative model (resuming from its last checkpoint), then score its best one."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genbench.config import RunConfig
from genbench.data.base import Dataset
from genbench.results.record import RunResult
from genbench.results.store import warn_stderr
from genbench.run.record import run_result


def train_and_score(
    cfg: RunConfig,
    data: Dataset,
    model: Any,
    directory: Path,
    progress: bool | None,
    announce: Callable[[str], None] | None,
    space: Any = None,
) -> RunResult | None:
    """Fit (resuming from last.ckpt if there is one), then score the best checkpoint; `space`
    is the feature space sample quality is measured in (None: not measured). None in the
    processes of ranks other than 0, which train along and score nothing."""
    say = announce or warn_stderr
    last = resumable(directory / "checkpoints" / "last.ckpt", say)
    resumed_from = None if last is None else str(last)
    if announce is not None:
        verb = "resuming" if resumed_from else "training"
        announce(f"{verb} {cfg.model_name} on {cfg.dataset_name}, seed {cfg.seed} -> {directory}")

    from genbench.callbacks import Diverged
    from genbench.data.loader import TensorDataModule
    from genbench.estimate import QUICKER, find
    from genbench.training import make_trainer

    trainer, best, clock = make_trainer(cfg.trainer, directory, progress, model.monitor, QUICKER)
    datamodule = TensorDataModule(data, cfg.trainer.batch_size, cfg.eval.batch_size, cfg.seed)
    status, diverged_step = "done", None
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=resumed_from)
    except Diverged as e:
        status, diverged_step = "diverged", e.step
    except SystemExit:  # Lightning turns Ctrl-C and SIGTERM into SystemExit after saving state
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning set it to ignore
        raise KeyboardInterrupt from None
    train_seconds = clock.seconds
    if not trainer.is_global_zero:
        return None

    metrics: dict[str, Any] = {
        "train_seconds": train_seconds,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
    }
    eval_seconds = 0.0
    if status == "done":
        from genbench.evaluation.scorecard import peak_memory, score_generative
        from genbench.progress import Phases

        if best.state_dict_ is not None:
            model.load_state_dict(best.state_dict_)
            metrics["best_epoch"] = best.epoch + 1  # from 1, as the epoch lines count
        model.eval()
        model.after_training(data.train.to(model.device))
        evaluate_started = time.perf_counter()
        phases = Phases(live=progress)  # like training's: a bar on a terminal, else lines
        metrics.update(score_generative(model, data, cfg.eval, cfg.seed, directory, space, phases))
        eval_seconds = time.perf_counter() - evaluate_started
        seen = trainer.current_epoch * len(data.train)
        metrics["train_examples_per_second"] = seen / train_seconds if train_seconds else None
        metrics.update(peak_memory(model.device))
    else:
        metrics["diverged_step"] = diverged_step

    timings = {"train_seconds": train_seconds, "eval_seconds": eval_seconds}
    estimate = find(trainer)
    if estimate is not None and estimate.estimated is not None:  # what the user was told
        timings["estimated_train_seconds"] = estimate.estimated
    return run_result(cfg, data, status, metrics, model.device, timings, resumed_from is not None)


# what Lightning reads back from a checkpoint to resume training
RESUME_KEYS = frozenset({"state_dict", "optimizer_states", "loops", "epoch", "global_step"})


def resumable(path: Path, say: Callable[[str], None]) -> Path | None:
    """`path` if it holds a training state to resume from. A damaged one (truncated, random
    bytes, not a Lightning checkpoint) is moved aside, never deleted, and said; None then
    means the run starts again from scratch."""
    if not path.exists():
        return None
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        missing = RESUME_KEYS - set(state) if isinstance(state, dict) else RESUME_KEYS
        problem = f"it lacks {', '.join(sorted(missing))}" if missing else None
    except Exception as e:  # damaged files raise RuntimeError, UnpicklingError, EOFError, ...
        problem = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:80]}"
    if problem is None:
        return path
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(aside)
    say(f"checkpoint {path} could not be read ({problem}); moved to {aside.name}; starting over")
    return None
