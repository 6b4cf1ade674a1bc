"""trainer.threads: auto leaves the cores other work holds, an explicit count or OMP_NUM_THREADS
wins, and the count a run computed with is recorded with its result."""

from __future__ import annotations

import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from genbench.config import resolve
from genbench.run.execute import run
from genbench.threads import (
    apply_threads,
    auto_threads,
    busy_cores,
    choose_threads,
    cpu_times,
    measure_busy,
)

# /proc/stat's format (proc(5)): user nice system idle iowait irq softirq steal guest guest_nice
STAT_BEFORE = """cpu  300 0 100 1000 0 0 0 0 0 0
cpu0 100 0 50 500 0 0 0 0 0 0
cpu1 200 0 50 500 0 0 0 0 0 0
cpu2 0 0 0 900 0 0 0 0 0 0
intr 12345 0 0
"""
# 100 ticks later: cpu0 fully busy (user), cpu1 busy a quarter (system; iowait counts idle),
# cpu2 idle; guest ticks (already in user) are not counted twice
STAT_AFTER = """cpu  450 0 125 1225 0 0 0 0 0 0
cpu0 200 0 50 500 0 0 0 0 40 0
cpu1 200 0 75 550 25 0 0 0 0 0
cpu2 0 0 0 1000 0 0 0 0 0 0
intr 23456 0 0
"""


@pytest.mark.parametrize(
    ("cores", "load", "default", "expected"),
    [(2, 0.0, 2, 2), (2, 0.4, 2, 2), (2, 0.6, 2, 1), (2, 2.0, 2, 1), (2, 9.0, 2, 1),
     (16, 3.2, 8, 8), (16, 10.0, 8, 6), (1, 0.0, 1, 1)],
)  # fmt: skip
def test_auto_takes_the_cores_the_load_leaves_free(cores, load, default, expected):
    assert auto_threads(cores, load, default) == expected


def test_busy_cores_are_read_off_the_per_cpu_counters_of_this_process_cpus():
    before, after = cpu_times(STAT_BEFORE), cpu_times(STAT_AFTER)
    assert set(before) == {0, 1, 2}  # the per-CPU lines only, not the "cpu" total
    assert busy_cores(before, after, {0, 1, 2}) == pytest.approx(1.25)
    assert busy_cores(before, after, {1, 2}) == pytest.approx(0.25)  # affinity: not cpu0
    assert busy_cores(before, before, {0, 1}) == 0.0  # no ticks between: idle, no division


def test_measuring_reads_twice_an_interval_apart_and_gives_up_without_proc_stat():
    readings, slept = iter([STAT_BEFORE, STAT_AFTER]), []
    assert measure_busy({0, 1}, 0.25, lambda: next(readings), slept.append) == pytest.approx(1.25)
    assert slept == [0.25]

    def missing() -> str:
        raise FileNotFoundError("/proc/stat")

    assert measure_busy({0}, 0.0, missing, slept.append) is None


def test_an_explicit_count_or_omp_num_threads_wins_over_the_load():
    assert choose_threads(2, 2, environ={}, cores=2, load=5.0) == (2, "trainer.threads=2")
    count, why = choose_threads("auto", 2, environ={"OMP_NUM_THREADS": "1"}, cores=2, load=0.0)
    assert (count, why) == (1, "OMP_NUM_THREADS=1")
    count, why = choose_threads("auto", 2, environ={}, cores=2, load=1.8)
    assert count == 1 and why == "auto: 1.8 of 2 cores busy"


def test_the_run_computes_with_the_count_and_records_it(tmp_path, monkeypatch):
    before, pools = torch.get_num_threads(), threadpool_limits(limits=2)  # restored at the end
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert apply_threads("auto") == (1, "OMP_NUM_THREADS=1")
        lines: list[str] = []
        cfg = resolve("logreg", "iris", 0, ["trainer.threads=1"])
        outcome = run(cfg, tmp_path, announce=lines.append)
        assert outcome.record.device["cpu_threads"] == 1 == torch.get_num_threads()
        assert lines[0] == "1 CPU thread (trainer.threads=1)"
        assert {pool["num_threads"] for pool in threadpool_info()} == {1}  # BLAS, OpenMP too
    finally:
        torch.set_num_threads(before)
        pools.restore_original_limits()
