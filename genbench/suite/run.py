"""Execute a suite's runs that are not finished yet, on the local pool or on Ray."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from genbench.errors import GenbenchError
from genbench.results.store import read_result, run_dir
from genbench.suite.outcomes import Progress
from genbench.suite.plan import PlannedRun


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
        status = None if previous is None else previous.status
        if previous is not None and previous.finished:
            progress.done += 1
            progress.diverged += status == "diverged"
        elif status == "failed" and not retry_failed:
            progress.failed += 1
        else:
            todo.append(plan)
    progress.queued = [plan.cfg.model_name for plan in todo]
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
            from genbench.suite.backend_local import run_local

            run_local(todo, out, workers, threads, progress, report)
        else:
            from genbench.suite.backend_ray import run_ray

            run_ray(todo, out, workers, threads, ray_address, progress, report, gpus_per_run)
    report(f"suite finished: {progress.line()}")
    return progress


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
