"""trainer.threads: auto leaves the cores other work holds, an explicit count or OMP_NUM_THREADS
wins, and the count a run computed with is recorded with its result."""

from __future__ import annotations

import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from genbench.config import resolve
from genbench.run.execute import run
from genbench.threads import apply_threads, auto_threads, choose_threads


@pytest.mark.parametrize(
    ("cores", "load", "default", "expected"),
    [(2, 0.0, 2, 2), (2, 0.4, 2, 2), (2, 0.6, 2, 1), (2, 2.0, 2, 1), (2, 9.0, 2, 1),
     (16, 3.2, 8, 8), (16, 10.0, 8, 6), (1, 0.0, 1, 1)],
)  # fmt: skip
def test_auto_takes_the_cores_the_load_leaves_free(cores, load, default, expected):
    assert auto_threads(cores, load, default) == expected


def test_an_explicit_count_or_omp_num_threads_wins_over_the_load():
    assert choose_threads(2, 2, environ={}, cores=2, load=5.0) == (2, "trainer.threads=2")
    count, why = choose_threads("auto", 2, environ={"OMP_NUM_THREADS": "1"}, cores=2, load=0.0)
    assert (count, why) == (1, "OMP_NUM_THREADS=1")
    count, why = choose_threads("auto", 2, environ={}, cores=2, load=1.8)
    assert count == 1 and why == "auto: load average 1.8 on 2 cores"


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
