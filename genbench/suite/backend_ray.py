"""The Ray backend of suites: each run is a Ray task; the driver writes what it returns.

A task runs `genbench.run.execute.run` in a temporary folder on whatever node Ray picks, then
returns the files of the run folders it made (the run, and the sample-quality reference rows it
may have written), checkpoints excepted; the driver writes them into its own store, atomically, so a
remote cluster needs no shared filesystem. Ray is an optional extra: pip install genbench[ray].
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genbench.errors import GenbenchError
from genbench.results.store import RUNS, atomic_path, read_result
from genbench.suite.outcomes import Progress, write_failure
from genbench.suite.plan import PlannedRun

SKIPPED = ("checkpoints", ".lock")  # too large to ship, or meaningful only where the run ran


def execute(
    model: str, dataset: str, seed: int, overrides: list[str], threads: int, features: str
) -> dict[str, bytes]:
    """Run one run in a temporary store; return its files (relative path -> bytes)."""
    import torch

    from genbench.config import resolve
    from genbench.run.execute import run

    torch.set_num_threads(threads)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)  # for libraries loaded from here on
    if Path(features).parent.is_dir():  # the driver's cache is reachable (a local cluster)
        os.environ["GENBENCH_FEATURES"] = features
    cfg = resolve(model, dataset, seed, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        run(cfg, Path(tmp), progress=False)
        runs = Path(tmp) / RUNS
        return {
            str(path.relative_to(runs)): path.read_bytes()
            for path in runs.rglob("*")
            if path.is_file() and not any(part in SKIPPED for part in path.relative_to(runs).parts)
        }


def run_ray(
    todo: list[PlannedRun],
    out: Path,
    workers: int,
    threads: int,
    address: str | None,
    progress: Progress,
    report: Callable[[str], None],
    gpus_per_run: float = 0.0,
) -> None:
    """Submit every run as a Ray task needing `threads` CPUs (and `gpus_per_run` GPUs)."""
    try:
        import ray
    except ImportError:
        raise GenbenchError(
            "the ray backend needs Ray: pip install -c constraints.txt -e '.[ray]'"
        ) from None
    from genbench.paths import features_dir

    if address:
        ray.init(address=address, log_to_driver=False)
    else:  # a local instance with `workers` runs' worth of CPUs
        ray.init(num_cpus=workers * threads, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=threads, num_gpus=gpus_per_run)(execute)
        features = features_dir().resolve()
        with contextlib.suppress(OSError):  # so that tasks on this machine find it (see execute)
            features.mkdir(parents=True, exist_ok=True)
        pending: dict[Any, PlannedRun] = {}
        for plan in todo:
            c = plan.cfg
            ref = task.remote(
                c.model_name, c.dataset_name, c.seed, plan.overrides, threads, str(features)
            )
            pending[ref] = plan
        while pending:
            progress.running = min(len(pending), workers)
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=2.0)
            for ref in ready:
                plan = pending.pop(ref)
                try:
                    write_files(out, ray.get(ref))
                except ray.exceptions.RayTaskError as error:
                    record_failure(plan, out, str(error).strip().splitlines()[-1], progress, report)
                else:
                    progress.done += 1
            report(f"  {progress.line()}")
        progress.running = 0
    finally:
        ray.shutdown()


def write_files(out: Path, files: dict[str, bytes]) -> None:
    """Write a task's run folders into the store; result.json last, so a run is complete when
    it has one. Reference rows already stored are kept."""
    ordered = sorted(files, key=lambda name: name.endswith("result.json"))
    for name in ordered:
        target = out / RUNS / name
        if name.endswith("result.json") and read_result(target.parent) is not None:
            continue
        with atomic_path(target) as tmp:
            tmp.write_bytes(files[name])


def record_failure(
    plan: PlannedRun, out: Path, reason: str, progress: Progress, report: Callable[[str], None]
) -> None:
    progress.failed += 1
    write_failure(plan, out, reason)
    report(f"  failed: {plan.cfg.run_id}: {reason}")
