"""`run`: the one library function that carries out a planned run. The CLI (`genbench run`),
the suite's run processes and its Ray tasks all call it; each formats the outcome its own way.

A finished run (status done or diverged) is found by its id and reported, not trained again; an
interrupted one resumes from its last checkpoint.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from genbench.config import RunConfig
from genbench.errors import GenbenchError
from genbench.registry import is_classifier
from genbench.results.record import RunResult
from genbench.results.store import (
    RESULT,
    ensure_writable,
    read_result,
    run_dir,
    run_lock,
    write_result,
    write_text_atomic,
)
from genbench.run.build import build_classifier, build_model, load_dataset
from genbench.run.classifier import fit_and_score
from genbench.run.generative import train_and_score
from genbench.run.references import quality_space
from genbench.threads import apply_threads


@dataclass
class RunOutcome:
    record: RunResult
    directory: Path
    reused: bool  # True: an earlier finished run with the same id was found and not retrained

    @property
    def result(self) -> dict[str, Any]:
        """The record as result.json holds it."""
        return self.record.to_json()


def announce_stderr(line: str) -> None:
    """How a run's process says what it starts: one `genbench:` line on stderr."""
    print(f"genbench: {line}", file=sys.stderr, flush=True)


def run(
    cfg: RunConfig,
    out: Path,
    data_dir: Path | None = None,
    force: bool = False,
    progress: bool | None = None,
    announce: Callable[[str], None] | None = None,
    wait: bool = False,
) -> RunOutcome | None:
    """Train and score one run, or return the stored result of the same finished run.

    `announce` is called with a one-line description once the inputs are known to be valid
    and training is about to start. If another process is training the same run, fail at
    once, or with `wait` wait for it (and then reuse its result). In the processes Lightning
    starts for the other ranks of a multi-process run (trainer.strategy=ddp), it trains along
    and returns None: rank 0 evaluates and writes.
    """
    directory = run_dir(out, cfg.run_id)
    if secondary_process():  # another rank of a multi-process run: train along, rank 0 writes
        data = load_dataset(cfg, data_dir)
        train_and_score(cfg, data, build_model(cfg, data), directory, False, None)
        return None
    ensure_writable(out)
    if (directory / RESULT).is_dir():  # a damaged store: the result could not be written
        raise GenbenchError(f"{directory / RESULT} is a folder where the run's result belongs")
    previous = read_result(directory)
    if previous is not None and previous.finished and not force:
        return RunOutcome(previous, directory, reused=True)

    threads, why = apply_threads(cfg.trainer.threads)
    started = time.perf_counter()
    data = load_dataset(cfg, data_dir)
    data_seconds = time.perf_counter() - started
    # building raises GenbenchError if the model does not fit the data: before anything is written
    classifier = is_classifier(cfg.model_name)
    model = build_classifier(cfg, data, directory) if classifier else build_model(cfg, data)
    if announce is not None:  # once the inputs are known to be good: a bad one gets one line
        announce(f"{threads} CPU thread{'s' if threads > 1 else ''} ({why})")
    with run_lock(directory, wait=wait):
        previous = read_result(directory)  # another process may have finished it meanwhile
        if previous is not None and previous.finished and not force:
            return RunOutcome(previous, directory, reused=True)
        if force:
            clear_run(directory)
        write_text_atomic(directory / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        if classifier:
            result = fit_and_score(cfg, data, model, directory, announce)
        else:
            # before training: a multi-process run's environment must not reach the extractor's
            # own Trainer, and later runs find it cached
            space = None
            if cfg.eval.quality_samples > 0 and len(data.spec.shape) == 3:  # images only
                space = quality_space(cfg, data, data_dir, out, announce)
            result = train_and_score(cfg, data, model, directory, progress, announce, space)
            assert result is not None  # rank 0 scores
        result.timings["data_seconds"] = data_seconds
        result.timings["total_seconds"] = time.perf_counter() - started
        write_result(directory, result)
    return RunOutcome(result, directory, reused=False)


def secondary_process() -> bool:
    """Whether this process is one Lightning started for a rank other than 0 (it sets
    LOCAL_RANK and NODE_RANK in their environment)."""
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"


def clear_run(directory: Path) -> None:
    """Remove what an earlier attempt of this run wrote (for --force), keeping the lock file."""
    for path in directory.iterdir():
        if path.name != ".lock":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
