"""`genbench reproduce`: run a stored run again from its recorded config, in a results folder
of its own, and set its metrics beside the stored ones.

The rerun lands in `<results>/reproduce/<run_id>/runs/<run_id>/` unless `out` says otherwise
(never the stored run's own folder), is always trained afresh there, uses the torch thread
count the stored run recorded, and scores samples with the stored run's feature extractor (the
same key finds it in the user's cache, or in `<results>/features` where the stored run kept
its own), so the same seed, config and machine give the same numbers. Timings and peak memory
measure the machine, not the model: they are shown, not compared.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genbench.config import RunConfig
from genbench.errors import GenbenchError
from genbench.evaluation.metrics import METRICS
from genbench.paths import fallback_features_dir
from genbench.registry import TABLES
from genbench.results.record import RunResult
from genbench.results.store import ensure_writable, run_dir
from genbench.run.stored import find_run, stored_config

FOLDER = "reproduce"  # <results>/reproduce/<run_id>/: the default results folder of a rerun


def is_measurement(metric: str) -> bool:
    """Whether a metric measures the machine (time, speed, memory) rather than the model."""
    return metric.endswith(("_seconds", "_per_second")) or metric == "peak_memory_mb"


@dataclass
class Plan:
    """A checked `genbench reproduce`: the stored run, its rebuilt config, where to rerun it."""

    record: RunResult
    cfg: RunConfig
    out: Path
    threads: int | None  # torch threads the stored run used, where recorded


def prepare(results: Path, run: str, out: Path | None = None) -> Plan:
    """Check every input (one-line GenbenchError) before anything is trained or written."""
    directory, record = find_run(results, run)
    if record.model not in TABLES["model"]:  # a reference row: real images or noise, scored
        raise GenbenchError(f"{record.run_id} is a {record.model} row, not a run of a model")
    if not record.finished:
        raise GenbenchError(
            f"run {record.run_id} is {record.status}: no metrics to compare "
            f"({str(record.error or '')[:80]}); genbench run --force trains it again"
        )
    cfg = stored_config(record)
    out = out or results / FOLDER / record.run_id
    if run_dir(out, cfg.run_id).resolve() == directory.resolve():
        raise GenbenchError(
            f"--out {out} holds the stored run itself; rerunning there would overwrite it: "
            "choose another folder"
        )
    ensure_writable(out)
    threads = (record.device or {}).get("cpu_threads")
    return Plan(record, cfg, out, threads if isinstance(threads, int) else None)


@contextlib.contextmanager
def same_conditions(plan: Plan, results: Path) -> Iterator[None]:
    """The stored run's torch thread count (set, and as OMP_NUM_THREADS, which
    trainer.threads=auto takes), and its feature extractor, for the rerun: where the results
    folder keeps its own copy (<results>/features: the user's cache could not be written, or it
    was trained before extractors were shared), $GENBENCH_FEATURES points there unless the user
    set it."""
    import torch

    threads = torch.get_num_threads()
    saved = {name: os.environ.get(name) for name in ("GENBENCH_FEATURES", "OMP_NUM_THREADS")}
    space = str((plan.record.metrics if plan.record else {}).get("feature_space", ""))
    own = fallback_features_dir(results)
    pin = saved["GENBENCH_FEATURES"] is None and bool(space) and (own / f"{space}.pt").is_file()
    if plan.threads is not None:
        torch.set_num_threads(plan.threads)
        os.environ["OMP_NUM_THREADS"] = str(plan.threads)
    if pin:
        os.environ["GENBENCH_FEATURES"] = str(own)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class Row:
    metric: str
    stored: Any
    rerun: Any
    compared: bool  # False: a measurement of the machine, shown only

    @property
    def same(self) -> bool:
        return self.stored == self.rerun


@dataclass
class Reproduction:
    plan: Plan
    rerun: RunResult
    directory: Path  # the rerun's folder
    rows: list[Row]

    @property
    def differing(self) -> list[str]:
        return [row.metric for row in self.rows if row.compared and not row.same]


def reproduce_run(
    results: Path,
    run: str,
    out: Path | None = None,
    data_dir: Path | None = None,
    announce: Callable[[str], None] | None = None,
) -> Reproduction:
    """Rerun a stored run (a prefix of its id is enough) and compare its metrics."""
    from genbench.run.execute import run as execute

    plan = prepare(results, run, out)
    if announce is not None and plan.cfg.run_id != plan.record.run_id:
        announce(
            f"note: the stored config resolves to run id {plan.cfg.run_id}, not "
            f"{plan.record.run_id}: genbench's settings changed since it ran"
        )
    with same_conditions(plan, results):
        outcome = execute(plan.cfg, plan.out, data_dir=data_dir, force=True, announce=announce)
    assert outcome is not None  # one process: rank 0
    return Reproduction(plan, outcome.record, outcome.directory, rows(plan.record, outcome.record))


def rows(stored: RunResult, rerun: RunResult) -> list[Row]:
    """The status, then every metric either run has, in the metric table's order."""
    order = [m.name for m in METRICS]
    names = {*stored.metrics, *rerun.metrics}
    ranked = sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))
    missing = "(none)"
    return [Row("status", stored.status, rerun.status, True)] + [
        Row(n, stored.metrics.get(n, missing), rerun.metrics.get(n, missing), not is_measurement(n))
        for n in ranked
    ]


def shown(value: Any) -> str:
    if isinstance(value, float):
        return format(value, ".7g")
    return str(value)


def difference(row: Row) -> str:
    if not row.compared:
        return "(measured: not compared)"
    numbers = [v for v in (row.stored, row.rerun) if isinstance(v, int | float)]
    if len(numbers) == 2 and not any(isinstance(v, bool) for v in numbers):
        gap = row.rerun - row.stored
        return "0" if gap == 0 else format(gap, "+.3g")
    return "same" if row.same else "differs"


def report(result: Reproduction) -> str:
    """The comparison as aligned text: metric, stored, rerun, difference (rerun - stored)."""
    plan = result.plan
    threads = (
        f"{plan.threads} torch thread{'s' * (plan.threads != 1)}, as stored"
        if plan.threads
        else "thread count not recorded"
    )
    lines = [f"reproduced {plan.record.run_id} -> {result.directory} ({threads})"]
    table = [("metric", "stored", "rerun", "difference")]
    table += [(r.metric, shown(r.stored), shown(r.rerun), difference(r)) for r in result.rows]
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        lines.append("  " + "  ".join([*cells, line[3]]).rstrip())
    compared = sum(r.compared for r in result.rows)
    differing = result.differing
    if differing:
        lines.append(f"differ: {len(differing)} of {compared} compared ({', '.join(differing)})")
    else:
        lines.append(f"identical: all {compared} compared (timings and memory not compared)")
    return "\n".join(lines)
