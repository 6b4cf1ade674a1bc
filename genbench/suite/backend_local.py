"""The local backend: at most `--workers` runs at a time, each in its own process.

The processes fork from a server that imported torch and Lightning once (multiprocessing's
forkserver), so a run does not pay the seconds of imports again. Children die with the suite
however it ends (Ctrl-C, SIGTERM, SIGKILL, an OOM kill: see genbench/lifeline.py). Each calls
genbench.run.execute.run, the function `genbench run` calls, with its output in run.log.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import threading
import time
import unittest.mock
from collections.abc import Callable
from pathlib import Path

from genbench import lifeline
from genbench.results.store import run_dir
from genbench.suite.outcomes import Progress, finish
from genbench.suite.plan import PlannedRun

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# genbench.lifeline first: it ties the server to the suite before the slow imports
PRELOAD = [
    "genbench.lifeline",
    "genbench.run.execute",
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
    plan: PlannedRun, out: str, log: str, threads: int, environment: dict[str, str], cwd: str
) -> None:
    """The body of one run's process: the run, as `genbench run` does it, with `threads`
    threads, its output appended to `log`; exits with the code `genbench run` would. It takes
    the suite's environment and folder as they are now, not as they were when the server
    started. It gets SIGTERM (saves its state and stops) when its parent, the forkserver or
    the suite, dies."""
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
    from genbench.exits import guarded
    from genbench.results.summary import summary
    from genbench.run.execute import announce_stderr, run

    # --wait: if a run of a killed suite is still shutting down, wait for its lock
    arguments = [*plan.command, "--out", out, "--wait"]
    # what Lightning re-executes for the other ranks of a multi-process (DDP) run
    sys.argv = [str(Path(genbench.__file__).with_name("__main__.py")), *arguments]

    def body() -> int:
        outcome = run(plan.cfg, Path(out), announce=announce_stderr, wait=True)
        if outcome is not None:  # None: a secondary rank of a multi-process run
            print(summary(outcome.record, outcome.directory, outcome.reused), flush=True)
        return 0

    sys.exit(guarded(body, arguments))


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
                process = context.Process(
                    target=run_in_child,
                    args=(
                        plan,
                        str(out),
                        str(directory / "run.log"),
                        threads,
                        dict(os.environ),
                        os.getcwd(),
                    ),
                    name=plan.cfg.run_id,
                )
                process.start()
                running[process] = (plan, time.perf_counter())
                progress.start(plan.cfg.run_id, plan.cfg.model_name)
            for process in [p for p in running if p.exitcode is not None]:
                plan, started = running.pop(process)
                finish(plan, process.exitcode, time.perf_counter() - started, out, progress, report)
                process.close()
            if time.perf_counter() - last_line >= 2.0:
                report(f"  {progress.line()}")
                last_line = time.perf_counter()
            time.sleep(0.2)
    finally:
        for process in running:  # interrupted: stop the children, which save their state
            process.terminate()
        for process in running:
            process.join()
