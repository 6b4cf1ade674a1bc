"""A suite's counts and live line, and what it records of each run that ended."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from genbench.results.record import RunResult
from genbench.results.store import read_result, run_dir, write_result
from genbench.suite.plan import PlannedRun


@dataclass
class Progress:
    """Counts and the live line: done/running/failed, elapsed, estimated remaining, and the runs
    still going. `done` counts finished runs, the `diverged` among them too."""

    total: int
    workers: int
    done: int = 0
    diverged: int = 0
    failed: int = 0
    running: int = 0  # where a backend cannot name its runs (Ray); else len(active)
    durations: list[float] = field(default_factory=list)  # of the runs that finished here
    by_model: dict[str, list[float]] = field(default_factory=dict)
    queued: list[str] = field(default_factory=list)  # models of the runs not started, in order
    started: float = field(default_factory=time.perf_counter)
    active: dict[str, float] = field(default_factory=dict)  # run id -> when it started
    active_models: dict[str, str] = field(default_factory=dict)  # run id -> its model

    def start(self, run_id: str, model: str | None = None) -> None:
        self.active[run_id] = time.perf_counter()
        self.running = len(self.active)
        if model is not None:
            self.active_models[run_id] = model
            if model in self.queued:
                self.queued.remove(model)

    def stop(self, run_id: str) -> None:
        self.active.pop(run_id, None)
        self.running = len(self.active)

    def record(self, model: str, seconds: float) -> None:
        """A run of `model` finished in `seconds`: what the estimate learns from."""
        self.durations.append(seconds)
        self.by_model.setdefault(model, []).append(seconds)

    def line(self) -> str:
        now = time.perf_counter()
        left = self.total - self.done - self.failed
        diverged = f" ({self.diverged} diverged)" if self.diverged else ""
        text = f"{self.done}/{self.total} done{diverged}, {self.running} running"
        text += f", {self.failed} failed"
        text += f", {fmt(now - self.started)} elapsed"
        if self.durations and left:
            text += self.estimate(now, left)
        if self.active:
            ages = sorted(((now - t, run) for run, t in self.active.items()), reverse=True)
            named = ", ".join(f"{run} {fmt(age)}" for age, run in ages[:3])
            more = f" and {len(ages) - 3} more" if len(ages) > 3 else ""
            text += f"; running: {named}{more}"
        return text

    def expected(self, model: str | None) -> list[float]:
        """The durations a run of `model` is expected to take after: its model's finished runs
        here, or every finished run's when none of its model has finished."""
        return self.by_model.get(model or "") or self.durations

    def estimate(self, now: float, left: int) -> str:
        """', ~2m10s left': each queued run's model's mean run time; for each running run, the
        mean time left of the finished runs (of its model) that ran longer than it has so far
        (E[D - age | D > age]); shared among the workers. A run already past every finished run
        of its kind is counted apart (its time left is unknown), so the figure is never a
        frozen guess."""
        queued = max(0, left - self.running)
        models: list[str | None] = [*self.queued[:queued]]
        models += [None] * (queued - len(models))
        work = sum(statistics.fmean(self.expected(model)) for model in models)
        past = 0
        for run, started in self.active.items():
            age = now - started
            longer = [d - age for d in self.expected(self.active_models.get(run)) if d > age]
            if longer:
                work += statistics.fmean(longer)
            else:
                past += 1
        if not self.active and self.running:  # a backend that cannot say when runs started
            work += self.running * statistics.fmean(self.durations)
        beyond = f"{past} running past every comparable finished run"
        if past and work <= 0:
            return f", {beyond}"
        seconds = work / max(1, min(self.workers, left))
        share = "under 1s left" if seconds < 1 else f"~{fmt(seconds)} left"
        return f", {share} besides {beyond}" if past else f", {share}"


def fmt(seconds: float) -> str:
    if 0 < seconds < 1:
        return "<1s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def finish(
    plan: PlannedRun,
    code: int,
    seconds: float,
    out: Path,
    progress: Progress,
    report: Callable[[str], None],
) -> None:
    """Count a finished run process; record a crash as a failed run."""
    progress.stop(plan.cfg.run_id)
    directory = run_dir(out, plan.cfg.run_id)
    result = read_result(directory)
    status = None if result is None else result.status
    if result is not None and result.finished:
        progress.done += 1
        progress.diverged += status == "diverged"
        progress.record(plan.cfg.model_name, seconds)
        if status == "diverged":
            report(f"  diverged: {plan.cfg.run_id} at step {result.metrics.get('diverged_step')}")
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


def write_failure(plan: PlannedRun, out: Path, reason: str, exit_code: int | None = None) -> None:
    """Store a run that crashed: status failed, with the reason; rerun with --retry-failed."""
    failure = RunResult(
        run_id=plan.cfg.run_id,
        model=plan.cfg.model_name,
        dataset=plan.cfg.dataset_name,
        seed=plan.cfg.seed,
        status="failed",
        error=reason,
        exit_code=exit_code,
        config=plan.cfg.to_dict(),
    )
    write_result(run_dir(out, plan.cfg.run_id), failure)
