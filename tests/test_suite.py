"""Suites: expansion, resume after a kill, identical numbers with 1 or 2 workers, Ray."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genbench.cli import main
from genbench.data.mnist import MNIST
from genbench.errors import GenbenchError
from genbench.results.store import read_result, write_json_atomic
from genbench.suite import SuiteSpec, expand, run_suite, write_failure
from tests.conftest import QUICK, TINY
from tests.data.test_mnist import write_family

TINY_SET = [*QUICK, *TINY["vae"], "trainer.max_epochs=2"]


def tiny_suite(seeds=(0, 1), models=("vae", "logreg")) -> SuiteSpec:
    return SuiteSpec(
        models=list(models), datasets=["digits"], seeds=list(seeds), set=QUICK,
        per_model={"vae": [*TINY["vae"], "trainer.max_epochs=2"]},
    )  # fmt: skip


def metrics_by_run(out):
    return {
        p.name: json.loads((p / "result.json").read_text())["metrics"]
        for p in (out / "runs").iterdir()
        if (p / "result.json").exists() and not p.name.startswith("reference")
    }


def strip_timings(metrics):
    drop = {"train_seconds", "fit_seconds", "predict_seconds", "samples_per_second",
            "train_examples_per_second", "peak_memory_mb"}  # fmt: skip
    return {k: v for k, v in metrics.items() if k not in drop}


def test_expansion_is_the_grid_and_skips_what_does_not_apply():
    spec = SuiteSpec(
        models=["vae", "logreg"], datasets=["digits", "bars"], seeds=[0, 1],
        grid={"data.train_fraction": [0.5, 1.0]},
    )  # fmt: skip
    plans, skipped = expand(spec)
    assert len(plans) == 2 * 2 * 2 + 1 * 1 * 2 * 2  # logreg does not apply to bars
    assert skipped == ["logreg on bars: a classifier needs labels"]
    assert len({p.cfg.run_id for p in plans}) == len(plans)
    assert {p.cfg.data.train_fraction for p in plans} == {0.5, 1.0}
    with pytest.raises(GenbenchError, match="unknown model 'nope'"):
        expand(SuiteSpec(models=["nope"], datasets=["digits"]))
    with pytest.raises(GenbenchError, match=r"unknown key 'model\.nope'"):
        expand(SuiteSpec(models=["vae"], datasets=["digits"], set=["model.nope=1"]))


@pytest.mark.parametrize(
    "spec",
    [
        SuiteSpec(models=["vae"], datasets=["digits"], seeds=[0, -1]),
        SuiteSpec(models=["vae", "gan"], datasets=["digits"], per_model={"gan": ["model.lr=-1"]}),
        SuiteSpec(models=["vae"], datasets=["digits"], grid={"model.latent_dim": [8, 0]}),
    ],
)
def test_a_bad_value_fails_the_suite_before_any_dataset_is_loaded(spec, monkeypatch):
    def loading(*args, **kwargs):
        raise AssertionError("a dataset was loaded before every run's config was checked")

    monkeypatch.setattr("genbench.suite.plan.applicability", loading)
    with pytest.raises(GenbenchError, match="is not valid: must be"):
        expand(spec)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"models: [vae\ndatasets: [digits]\n", "is not valid YAML (line"),
        (b"", "is empty; expected a YAML mapping"),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "is not text"),
        (b"- vae\n- digits\n", "holds a list; expected a YAML mapping"),
        (b"vae\n", "holds a str; expected a YAML mapping"),
        (b"models: [vae]\ndatasets: [digits]\nseeds: a\n", "'seeds' must be a list of seeds"),
        (b"models: [vae]\ndatasets: [digits]\nseeds: 3\n", "'seeds' must be a list of seeds"),
        (b"models: [vae]\ndatasets: [digits]\ngrid: {k: 1}\n", "'grid' must be a mapping"),
        (b"models: [vae]\ndatasets: [digits]\nper_model: [x]\n", "'per_model' must be a"),
        (b"models: vae\ndatasets: [digits]\n", "'models' must be a list of model names"),
        (b"models: [vae]\ndatasets: [digits]\nset: [lr]\n", "'set' must be a list of key=val"),
        (b"models: [vae]\ndatasets: [digits]\nsedes: [0]\n", "unknown key sedes"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_damaged_suite_file_is_one_line_naming_file_and_key(tmp_path, capsys, content, expected):
    path = tmp_path / "suite.yaml"
    path.write_bytes(content)
    assert main(["suite", str(path), "--dry-run", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert str(path) in err and expected in err, err
    assert path.read_bytes() == content and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_one_and_two_workers_give_identical_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "cache"))  # empty: the runs train it
    plans, _ = expand(tiny_suite())
    for workers in (1, 2):
        progress = run_suite(
            plans, tmp_path / f"w{workers}", workers=workers, report=lambda _: None
        )
        assert (progress.done, progress.failed) == (4, 0)
    one, two = metrics_by_run(tmp_path / "w1"), metrics_by_run(tmp_path / "w2")
    assert one.keys() == two.keys() and len(one) == 4
    for run_id in one:
        assert strip_timings(one[run_id]) == strip_timings(two[run_id]), run_id
    # the runs inherit $GENBENCH_CACHE: one feature extractor there, none in either --out
    spaces = {m["feature_space"] for m in one.values() if "feature_space" in m}
    assert [p.stem for p in (tmp_path / "cache" / "features").glob("*.pt")] == list(spaces)
    assert (
        not (tmp_path / "w1" / "features").exists() and not (tmp_path / "w2" / "features").exists()
    )


@pytest.mark.slow
def test_failed_runs_are_skipped_unless_retried(tmp_path):
    plans, _ = expand(tiny_suite(seeds=(0,), models=("logreg",)))
    write_failure(plans[0], tmp_path, "boom")
    progress = run_suite(plans, tmp_path, report=lambda _: None)
    assert (progress.done, progress.failed) == (0, 1)
    progress = run_suite(plans, tmp_path, retry_failed=True, report=lambda _: None)
    assert (progress.done, progress.failed) == (1, 0)
    assert read_result(tmp_path / "runs" / plans[0].cfg.run_id).status == "done"


def test_the_closing_line_counts_diverged_and_failed_runs(tmp_path):
    plans, _ = expand(tiny_suite(seeds=(0, 1), models=("logreg",)))
    record = {"run_id": plans[0].cfg.run_id, "model": "logreg", "dataset": "digits", "seed": 0,
              "status": "diverged", "metrics": {"diverged_step": 3}}  # fmt: skip
    write_json_atomic(tmp_path / "runs" / plans[0].cfg.run_id / "result.json", record)
    write_failure(plans[1], tmp_path, "boom")
    lines = []
    progress = run_suite(plans, tmp_path, report=lines.append)
    assert (progress.done, progress.diverged, progress.failed) == (1, 1, 1)
    assert lines[-1].startswith("suite finished: 1/2 done (1 diverged), 0 running, 1 failed")


@pytest.mark.slow
def test_runs_take_the_suites_folder_and_environment_of_now(tmp_path, monkeypatch):
    """Runs fork from a server started earlier (here by the first suite): a relative --out
    and $GENBENCH_DATA must be the suite's as they are now, as for a fresh subprocess."""
    plans, _ = expand(tiny_suite(seeds=(0,), models=("logreg",)))
    run_suite(plans, tmp_path / "first", report=lambda _: None)  # the server is running now
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENBENCH_DATA", str(tmp_path / "data"))
    write_family(tmp_path / "data", MNIST, gz=False)  # tiny MNIST files, only there
    spec = SuiteSpec(
        models=["logreg"], datasets=["mnist"], set=["data.n_val=10", "data.download=false"]
    )
    plans, _ = expand(spec)
    progress = run_suite(plans, Path("relative"), report=lambda _: None)
    assert (progress.done, progress.failed) == (1, 0)
    stored = read_result(tmp_path / "relative" / "runs" / plans[0].cfg.run_id)
    assert stored.status == "done" and stored.metrics["n_train"] == 30  # train + val


@pytest.mark.slow
def test_killed_suite_restarts_and_ends_with_every_run_done_once(tmp_path):
    """Kill -9 the suite mid-way; its runs get SIGTERM and save their state. Started again, it
    skips what finished (untouched), resumes the rest, and ends with every run done once."""
    out = tmp_path / "out"
    args = ["--models", "vae", "--datasets", "digits", "--seeds", "0,1,2", "--workers", "2"]
    sets = [a for kv in [*TINY_SET[:-1], "trainer.max_epochs=30"] for a in ("--set", kv)]
    command = [sys.executable, "-m", "genbench", "suite", *args, *sets, "--out", str(out)]
    suite = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("runs/vae-*/result.json")):
        time.sleep(0.2)  # kill once the first run has finished and others are in flight
    os.kill(suite.pid, signal.SIGKILL)
    suite.wait()
    time.sleep(1)
    finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("runs/vae-*/result.json")}
    assert 1 <= len(finished) < 3
    assert main(["suite", *args, *sets, "--out", str(out)]) == 0  # resumes
    results = {p.parent.name: p for p in out.glob("runs/vae-*/result.json")}
    assert len(results) == 3
    for run_id, mtime in finished.items():  # not redone
        assert results[run_id].stat().st_mtime_ns == mtime
    for path in results.values():
        assert json.loads(path.read_text())["status"] == "done"


def family(root: int) -> set[int]:
    """The live processes descended from `root`, by a scan of /proc (zombies count as gone)."""
    parents = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # not a process, or gone meanwhile
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (not gone, not a zombie)."""
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
@pytest.mark.slow
def test_a_killed_suite_leaves_no_process_behind(tmp_path, signum):
    """However the suite ends, its forkserver and its runs end with it (seen before: a run
    training on for minutes after `kill PID`). SIGTERM ends it as Ctrl-C does (exit 130)."""
    out = tmp_path / "out"
    args = ["--models", "vae", "--datasets", "digits", "--seeds", "0", "--out", str(out)]
    long = [*TINY_SET[:-1], "trainer.max_epochs=100000", "eval.quality_samples=0"]
    sets = [a for kv in long for a in ("--set", kv)]
    command = [sys.executable, "-m", "genbench", "suite", *args, *sets]
    log = tmp_path / "suite.log"  # a file, not a pipe, that orphans could hold open
    with open(log, "wb") as stderr:
        suite = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("runs/vae-*/checkpoints/last.ckpt")):
        time.sleep(0.2)  # the run is training
    children = family(suite.pid)
    assert len(children) >= 2  # the forkserver and the run, at least
    os.kill(suite.pid, signum)
    suite.wait(timeout=60)
    deadline = time.time() + 30
    while alive(children) and time.time() < deadline:
        time.sleep(0.2)
    assert not alive(children), f"left behind: {alive(children)}"
    if signum == signal.SIGTERM:
        assert suite.returncode == 130 and "interrupted" in log.read_text()


@pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="the ray extra is not installed"
)
@pytest.mark.slow
def test_ray_backend_on_a_local_instance(tmp_path):
    plans, _ = expand(tiny_suite(seeds=(0,)))
    progress = run_suite(
        plans, tmp_path / "ray", workers=2, backend="ray", threads=1, report=lambda _: None
    )
    assert (progress.done, progress.failed) == (2, 0)
    local = run_suite(plans, tmp_path / "local", workers=1, threads=1, report=lambda _: None)
    assert local.done == 2
    ray_metrics, local_metrics = (
        metrics_by_run(tmp_path / "ray"),
        metrics_by_run(tmp_path / "local"),
    )
    assert {k: strip_timings(v) for k, v in ray_metrics.items()} == {
        k: strip_timings(v) for k, v in local_metrics.items()
    }
    run_files = {p.name for p in (tmp_path / "ray" / "runs" / plans[0].cfg.run_id).iterdir()}
    assert {"result.json", "config.yaml", "samples.png"} <= run_files  # written by the driver


def test_the_time_left_falls_as_runs_go_on_and_names_the_runs_still_going(monkeypatch):
    from genbench.suite import outcomes

    clock = [100.0]
    monkeypatch.setattr(outcomes.time, "perf_counter", lambda: clock[0])
    progress = outcomes.Progress(total=3, workers=1, done=1, durations=[10.0])
    progress.start("vae-digits-s0-1234abcd")
    clock[0] += 4.0
    assert progress.line().endswith(", ~16s left; running: vae-digits-s0-1234abcd 4s")
    clock[0] += 2.0  # one queued run (10 s) and the running one's 4 s left
    assert ", ~14s left;" in progress.line()
    progress.total = 2  # nothing queued: the running run alone, past the mean run time
    clock[0] += 30.0
    assert ", 1 running past every comparable finished run; running: " in progress.line()
    progress.stop("vae-digits-s0-1234abcd")
    assert "running:" not in progress.line() and ", 0 running," in progress.line()


def test_the_time_left_expects_each_model_to_take_what_its_finished_runs_took(monkeypatch):
    """A transformer queued after quick VAEs counts as a transformer, and a running run's time
    left is that of the finished runs that ran longer: it keeps changing, never a frozen '~4s'."""
    from genbench.suite import outcomes

    clock = [0.0]
    monkeypatch.setattr(outcomes.time, "perf_counter", lambda: clock[0])
    progress = outcomes.Progress(total=6, workers=1, queued=["vae", "transformer"])
    for seconds in (10.0, 20.0, 60.0):
        progress.record("vae", seconds)
    progress.record("transformer", 100.0)
    progress.done = 4
    progress.start("vae-digits-s3-1234abcd", "vae")
    assert progress.queued == ["transformer"]
    clock[0] = 15.0  # of the vae runs, 20 s and 60 s ran longer: (5 + 45) / 2 left, + 100
    assert progress.line().split("; ")[0].endswith(", ~2m05s left")
    clock[0] = 30.0  # only the 60 s one: 30 s left
    assert ", ~2m10s left;" in progress.line()
    clock[0] = 61.0  # past every finished vae run: the transformer's 100 s, the rest unknown
    assert ", ~1m40s left besides 1 running past every comparable finished run;" in (
        progress.line()
    )
