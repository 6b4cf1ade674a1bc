"""Suites: a grid of runs (models x datasets x seeds x parameter lists), executed resumably.

A suite expands to RunConfigs up front (so a bad name or key fails before anything runs), skips
runs already finished in the store, and executes the rest on a backend:

- local: `--workers N` runs at a time, each a `genbench run` in its own process with its share
  of the cores as threads. The processes fork from a server that imported torch and Lightning
  once (multiprocessing's forkserver), so a run does not pay the seconds of imports again.
  Children die with the suite however it ends (Ctrl-C, SIGTERM, SIGKILL, an OOM kill: see
  genbench/lifeline.py) and a restarted suite resumes interrupted runs from their checkpoints;
- ray: each run is a Ray task with its CPU/GPU needs, on a local or remote Ray cluster; the
  task returns the run's files and the driver writes them into the store.

A run that crashes is recorded with status "failed" and is rerun only with --retry-failed; a
diverged run is finished, like a done one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import threading
import time
import unittest.mock
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genbench import lifeline
from genbench.config import CONFIG_DIR, RunConfig, parse_override, resolve, resolve_data
from genbench.errors import GenbenchError, unknown_choice
from genbench.registry import applies, describe
from genbench.results.store import (
    FINISHED,
    RESULT,
    read_result,
    run_dir,
    write_json_atomic,
)

SUITE_KEYS = ("description", "models", "datasets", "seeds", "set", "per_model", "grid")


@dataclass
class SuiteSpec:
    """What to run: every model on every dataset with every seed and every grid combination,
    each with the `set` overrides, then the model's own `per_model` overrides."""

    models: list[str]
    datasets: list[str]
    seeds: list[int] = field(default_factory=lambda: [0])
    set: list[str] = field(default_factory=list)
    per_model: dict[str, list[str]] = field(default_factory=dict)  # overrides for one model
    grid: dict[str, list[Any]] = field(default_factory=dict)
    description: str = ""


@dataclass
class PlannedRun:
    cfg: RunConfig
    overrides: list[str]  # what `genbench run` needs beyond model, dataset and seed

    @property
    def command(self) -> list[str]:
        """The `genbench run` arguments that reproduce this run."""
        args = ["run", "--model", self.cfg.model_name, "--dataset", self.cfg.dataset_name]
        args += ["--seed", str(self.cfg.seed)]
        for override in self.overrides:
            args += ["--set", override]
        return args


def load_spec(name_or_path: str) -> SuiteSpec:
    """A suite preset by name (configs/suites/NAME.yaml) or a YAML file's path; a file that is
    not a YAML mapping of the suite keys, each of its type, is refused naming file and key."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / "suites" / f"{name_or_path}.yaml"
    if not path.is_file():
        presets = sorted(p.stem for p in (CONFIG_DIR / "suites").glob("*.yaml"))
        if Path(name_or_path).suffix:
            raise GenbenchError(f"suite file {name_or_path} not found")
        raise unknown_choice("suite", name_or_path, presets)
    expected = f"a YAML mapping with keys among {', '.join(SUITE_KEYS)}"
    try:
        content = yaml.safe_load(path.read_text())
    except UnicodeDecodeError:
        raise GenbenchError(f"suite file {path} is not text; expected {expected}") from None
    except OSError as e:
        raise GenbenchError(f"cannot read suite file {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or "malformed"
        raise GenbenchError(f"suite file {path} is not valid YAML{where}: {problem}") from None
    if content is None:
        raise GenbenchError(f"suite file {path} is empty; expected {expected}")
    if not isinstance(content, dict):
        raise GenbenchError(
            f"suite file {path} holds a {type(content).__name__}; expected {expected}"
        )
    for key, value in content.items():
        if key not in SUITE_KEYS:
            raise GenbenchError(
                f"suite file {path}: unknown key {key}; valid: {', '.join(SUITE_KEYS)}"
            )
        valid, description = SUITE_TYPES[key]
        if not valid(value):
            shown = json.dumps(value, default=str)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise GenbenchError(f"suite file {path}: '{key}' must be {description}, got {shown}")
    return SuiteSpec(**content)


def _is_list_of(kind: type, value: Any, nonempty: bool = False) -> bool:
    """Whether value is a list of `kind` (bools are not ints here)."""
    return (
        isinstance(value, list)
        and (bool(value) or not nonempty)
        and all(isinstance(v, kind) and not isinstance(v, bool) for v in value)
    )


def _is_overrides(value: Any) -> bool:
    return _is_list_of(str, value) and all("=" in v for v in value)


# each suite key's type, checked when a file is read, and how the message describes it
SUITE_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "description": (lambda v: isinstance(v, str), "a string"),
    "models": (lambda v: _is_list_of(str, v, True), "a list of model names, e.g. [vae, logreg]"),
    "datasets": (lambda v: _is_list_of(str, v, True), "a list of dataset names, e.g. [digits]"),
    "seeds": (
        lambda v: _is_list_of(int, v, True) and min(v) >= 0,
        "a list of seeds (integers >= 0), e.g. [0, 1, 2]",
    ),
    "set": (_is_overrides, "a list of key=value overrides, e.g. [trainer.preset=quick]"),
    "per_model": (
        lambda v: isinstance(v, dict) and all(map(_is_overrides, v.values())),
        "a mapping of model -> list of key=value overrides, e.g. {vae: [model.latent_dim=8]}",
    ),
    "grid": (
        lambda v: (
            isinstance(v, dict)
            and all(isinstance(k, str) and isinstance(x, list) and x for k, x in v.items())
        ),
        "a mapping of section.key -> list of values, e.g. {model.latent_dim: [8, 16]}",
    ),
}


def expand(spec: SuiteSpec, extra_overrides: list[str] = ()) -> tuple[list[PlannedRun], list[str]]:
    """Every run of the suite, validated, and a note for each combination that does not apply
    (a classifier on unlabelled data, a generative model on continuous features).

    Every run's config (seed included) is resolved, and so checked, before any dataset is
    loaded or anything runs: a bad value fails the suite at once, not run by run."""
    for key in spec.grid:
        parse_override(f"{key}=0")  # the grid's keys have the section.key form
    names = list(spec.grid)
    combos = list(itertools.product(*(spec.grid[k] for k in names))) or [()]
    plans = []
    for model, dataset in itertools.product(spec.models, spec.datasets):
        for seed, combo in itertools.product(spec.seeds, combos):
            # JSON is YAML: the values read back as they were written
            grid = [f"{k}={json.dumps(v)}" for k, v in zip(names, combo, strict=True)]
            overrides = [*spec.set, *spec.per_model.get(model, []), *grid, *extra_overrides]
            plans.append(PlannedRun(resolve(model, dataset, seed, overrides), overrides))
    data_overrides = [o for o in [*spec.set, *extra_overrides] if o.startswith("data.")]
    applicable = applicability(spec.models, spec.datasets, data_overrides)
    skipped = [f"{model} on {dataset}: {reason}" for (model, dataset), reason in applicable.items()]
    plans = [p for p in plans if (p.cfg.model_name, p.cfg.dataset_name) not in applicable]
    return plans, skipped


def applicability(
    models: list[str], datasets: list[str], data_overrides: list[str] = ()
) -> dict[tuple[str, str], str]:
    """(model, dataset) -> why the model does not apply there, for the pairs that do not;
    each dataset describes itself (nothing is loaded), with the suite's `data.*` overrides."""
    specs = {d: describe(d, resolve_data(d, data_overrides)) for d in datasets}
    pairs = itertools.product(models, datasets)
    reasons = {(m, d): applies(m, specs[d]) for m, d in pairs}
    return {pair: reason for pair, reason in reasons.items() if reason is not None}


@dataclass
class Progress:
    """Counts and the live line: done/running/failed, elapsed, estimated remaining. `done`
    counts finished runs, the `diverged` among them too."""

    total: int
    workers: int
    done: int = 0
    diverged: int = 0
    failed: int = 0
    running: int = 0
    durations: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        left = self.total - self.done - self.failed
        diverged = f" ({self.diverged} diverged)" if self.diverged else ""
        text = f"{self.done}/{self.total} done{diverged}, {self.running} running"
        text += f", {self.failed} failed"
        text += f", {fmt(elapsed)} elapsed"
        if self.durations and left:
            mean = sum(self.durations) / len(self.durations)
            text += f", ~{fmt(mean * left / max(1, min(self.workers, left)))} left"
        return text


def fmt(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def run_suite(
    plans: list[PlannedRun],
    out: Path,
    workers: int = 1,
    backend: str = "local",
    ray_address: str | None = None,
    retry_failed: bool = False,
    threads: int | None = None,
    report: Callable[[str], None] = print,
    gpus_per_run: float = 0.0,
) -> Progress:
    """Execute the runs not finished yet; returns the final counts."""
    todo = []
    progress = Progress(len(plans), workers)
    for plan in plans:
        previous = read_result(run_dir(out, plan.cfg.run_id))
        status = None if previous is None else previous.get("status")
        if status in FINISHED:
            progress.done += 1
            progress.diverged += status == "diverged"
        elif status == "failed" and not retry_failed:
            progress.failed += 1
        else:
            todo.append(plan)
    report(
        f"suite: {len(plans)} runs: {progress.done} finished earlier, {progress.failed} failed "
        f"earlier (--retry-failed reruns them), {len(todo)} to run"
    )
    # one thread per run unless asked: BLAS and parallel reductions change the last bits of
    # results with the thread count, so a run's numbers must not depend on --workers
    threads = threads or 1
    cores = os.cpu_count() or 1
    if workers * threads > cores:
        report(f"note: {workers} workers x {threads} threads exceed the {cores} cores here")
    if backend not in ("local", "ray"):
        raise GenbenchError(f"unknown backend '{backend}'; valid: local, ray")
    with sigterm_as_interrupt():
        if backend == "local":
            run_local(todo, out, workers, threads, progress, report)
        else:
            from genbench.suite_ray import run_ray

            run_ray(todo, out, workers, threads, ray_address, progress, report, gpus_per_run)
    report(f"suite finished: {progress.line()}")
    return progress


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# genbench.lifeline first: it ties the server to the suite before the slow imports
PRELOAD = [
    "genbench.lifeline",
    "genbench.cli",
    "genbench.runner",
    "genbench.training",
    "genbench.registry",
]


def run_context() -> multiprocessing.context.BaseContext:
    """Where runs are started: forked from a server that has imported genbench, torch and
    Lightning (about 5 s a process saved), or spawned afresh where there is no forkserver."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    # the server imports torch with one thread per pool; each run then sets its own count.
    # It dies with this process (lifeline), whose pid it learns from the environment; only
    # when started from the main thread, as the signal fires when the starting thread ends.
    variables = dict.fromkeys(THREAD_VARIABLES, "1")
    if threading.current_thread() is threading.main_thread():
        variables[lifeline.PARENT_VARIABLE] = str(os.getpid())
    with unittest.mock.patch.dict(os.environ, variables):
        multiprocessing.forkserver.ensure_running()
    return context


def run_in_child(
    arguments: list[str], log: str, threads: int, environment: dict[str, str], cwd: str
) -> None:
    """The body of one run's process: `genbench run ARGUMENTS` with `threads` threads, its
    output appended to `log`; exits with the command's code. It takes the suite's environment
    and folder as they are now, not as they were when the server started. It gets SIGTERM
    (saves its state and stops) when its parent, the forkserver or the suite, dies."""
    lifeline.die_with_parent(signal.SIGTERM, lifeline.server_pid)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update({**environment, **dict.fromkeys(THREAD_VARIABLES, str(threads))})
    import torch

    torch.set_num_threads(threads)
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    import genbench
    from genbench.cli import main

    # what Lightning re-executes for the other ranks of a multi-process (DDP) run
    sys.argv = [str(Path(genbench.__file__).with_name("__main__.py")), *arguments]

    sys.exit(main(arguments))


def run_local(
    todo: list[PlannedRun],
    out: Path,
    workers: int,
    threads: int,
    progress: Progress,
    report: Callable[[str], None],
) -> None:
    """At most `workers` runs at a time, each in its own process with `threads` threads."""
    context = run_context() if todo else None
    pending = list(todo)
    running: dict[multiprocessing.process.BaseProcess, tuple[PlannedRun, float]] = {}
    last_line = 0.0
    try:
        while pending or running:
            while pending and len(running) < workers:
                plan = pending.pop(0)
                directory = run_dir(out, plan.cfg.run_id)
                directory.mkdir(parents=True, exist_ok=True)
                # --wait: if a run of a killed suite is still shutting down, wait for its lock
                arguments = [*plan.command, "--out", str(out), "--wait"]
                process = context.Process(
                    target=run_in_child,
                    args=(
                        arguments,
                        str(directory / "run.log"),
                        threads,
                        dict(os.environ),
                        os.getcwd(),
                    ),
                    name=plan.cfg.run_id,
                )
                process.start()
                running[process] = (plan, time.perf_counter())
            progress.running = len(running)
            for process in [p for p in running if p.exitcode is not None]:
                plan, started = running.pop(process)
                finish(plan, process.exitcode, time.perf_counter() - started, out, progress, report)
                process.close()
            progress.running = len(running)
            if time.perf_counter() - last_line >= 2.0:
                report(f"  {progress.line()}")
                last_line = time.perf_counter()
            time.sleep(0.2)
    finally:
        for process in running:  # interrupted: stop the children, which save their state
            process.terminate()
        for process in running:
            process.join()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within: SIGTERM (`kill PID`, a scheduler's stop) ends the suite as Ctrl-C does, by a
    KeyboardInterrupt, so its runs are stopped, save their state and are waited for."""
    if threading.current_thread() is not threading.main_thread():  # only it may set handlers
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def finish(
    plan: PlannedRun,
    code: int,
    seconds: float,
    out: Path,
    progress: Progress,
    report: Callable[[str], None],
) -> None:
    """Count a finished run process; record a crash as a failed run."""
    directory = run_dir(out, plan.cfg.run_id)
    result = read_result(directory)
    status = None if result is None else result.get("status")
    if status in FINISHED:
        progress.done += 1
        progress.diverged += status == "diverged"
        progress.durations.append(seconds)
        if status == "diverged":
            report(
                f"  diverged: {plan.cfg.run_id} at step {result['metrics'].get('diverged_step')}"
            )
        return
    if code == 130:  # interrupted (SIGTERM/SIGINT): not a failure, resumes next time
        report(f"  interrupted: {plan.cfg.run_id}")
        return
    progress.failed += 1
    log = directory / "run.log"
    tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
    reason = tail[0] if tail else f"exit code {code}"
    write_failure(plan, out, reason, exit_code=code)
    report(f"  failed: {plan.cfg.run_id}: {reason} (log: {log})")


def write_failure(plan: PlannedRun, out: Path, reason: str, **extra: Any) -> None:
    """Store a run that crashed: status failed, with the reason; rerun with --retry-failed."""
    record = {
        "run_id": plan.cfg.run_id,
        "model": plan.cfg.model_name,
        "dataset": plan.cfg.dataset_name,
        "seed": plan.cfg.seed,
        "status": "failed",
        "error": reason,
        **extra,
        "metrics": {},
        "config": plan.cfg.to_dict(),
    }
    write_json_atomic(run_dir(out, plan.cfg.run_id) / RESULT, record)
