"""`genbench reproduce`: a stored run trained again from its recorded config, in a folder of its
own, gives the same numbers (same machine, same threads); timings are shown, not compared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from genbench.cli import main
from genbench.errors import GenbenchError
from genbench.results.record import RunResult
from genbench.run.execute import run
from genbench.run.reproduce import (
    Plan,
    Reproduction,
    is_measurement,
    prepare,
    report,
    reproduce_run,
    rows,
    same_conditions,
)
from tests.conftest import QUICK, TINY, subprocess_env, tiny_config
from tests.report.fake import fake_reference, fake_run

# a tiny VAE, one epoch on a tenth of digits' training split, no sample-quality features
SMALL = ("trainer.max_epochs=1", "data.train_fraction=0.1", "eval.quality_samples=0")


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    outcome = run(tiny_config("vae", "digits", *SMALL), out)
    return out, outcome.record


def test_a_rerun_gives_the_same_numbers_in_its_own_folder(stored):
    out, record = stored
    result_json = out / "runs" / record.run_id / "result.json"
    before = result_json.read_bytes()
    lines = []
    reproduction = reproduce_run(out, record.run_id[:16], announce=lines.append)
    assert reproduction.directory == out / "reproduce" / record.run_id / "runs" / record.run_id
    assert reproduction.rerun.run_id == record.run_id
    compared = [r for r in reproduction.rows if r.compared]
    assert {r.metric for r in compared} >= {"bpd", "bpd_iwae", "recon_mse", "epochs", "params"}
    assert reproduction.differing == []
    assert all(r.stored == r.rerun for r in compared)
    assert {r.metric for r in reproduction.rows if not r.compared} >= {"train_seconds"}
    assert result_json.read_bytes() == before  # the stored run is left as it was
    assert any("training vae on digits" in line for line in lines)


def test_a_classifier_run_reproduces_too(tmp_path):
    from genbench.config import resolve

    stored = run(resolve("naive-bayes", "digits"), tmp_path).record
    again = reproduce_run(tmp_path, stored.run_id)
    assert again.differing == [] and again.rerun.metrics["accuracy"] == stored.metrics["accuracy"]
    assert not next(r for r in again.rows if r.metric == "fit_seconds").compared


def test_the_report_shows_differences_and_leaves_timings_uncompared(stored):
    out, record = stored
    rerun = RunResult.from_json(record.to_json())
    rerun.metrics = {**record.metrics, "bpd": record.metrics["bpd"] + 0.25, "train_seconds": 99.0}
    plan = Plan(record, None, out, 1)  # type: ignore[arg-type]
    table = rows(record, rerun)
    text = report(Reproduction(plan, rerun, out / "again", table))
    bpd = next(line for line in text.splitlines() if line.split()[0] == "bpd")
    assert bpd.split()[-1] == "+0.25"
    seconds = next(line for line in text.splitlines() if line.split()[0] == "train_seconds")
    assert seconds.endswith("(measured: not compared)") and "99" in seconds
    assert text.splitlines()[-1].startswith("differ: 1 of ") and text.endswith("(bpd)")
    same = report(Reproduction(plan, record, out, rows(record, record)))
    assert same.splitlines()[-1].startswith("identical: all ")
    assert "1 torch thread, as stored" in same.splitlines()[0]


def test_what_is_a_measurement():
    measured = ["train_seconds", "fit_seconds", "predict_seconds", "samples_per_second"]
    measured += ["train_examples_per_second", "peak_memory_mb"]
    assert all(map(is_measurement, measured))
    assert not any(map(is_measurement, ["bpd", "fd", "accuracy", "epochs", "peak_memory_kind"]))


def test_refusals_before_anything_is_written(tmp_path):
    metrics = {"bpd": 2.0, "bpd_kind": "elbo"}
    done = fake_run(tmp_path, "vae", metrics)
    failed = fake_run(tmp_path, "vae", {}, seed=4, status="failed")
    fake_reference(tmp_path, "train", 100, 3.0)
    for args, why in [
        ((done.run_id, tmp_path), "holds the stored run itself"),
        ((failed.run_id, None), "is failed: no metrics to compare"),
        (("reference-train", None), "is a reference-train row, not a run of a model"),
    ]:
        with pytest.raises(GenbenchError, match=why):
            prepare(tmp_path, *args)
    assert not (tmp_path / "reproduce").exists()


def test_the_rerun_uses_the_stored_threads_and_feature_extractor(tmp_path, monkeypatch):
    """The stored run's extractor: the user's cache holds it under the same key, unless the
    results folder kept its own (<results>/features), which $GENBENCH_FEATURES then points at."""
    import torch

    threads = torch.get_num_threads()
    record = SimpleNamespace(metrics={"feature_space": "digits-cnn-0123456789"})
    plan = Plan(record, None, tmp_path, threads + 1)  # type: ignore[arg-type]
    results = tmp_path / "results"
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    with same_conditions(plan, results):
        assert torch.get_num_threads() == threads + 1
        assert os.environ["OMP_NUM_THREADS"] == str(threads + 1)  # what trainer.threads=auto takes
        assert "GENBENCH_FEATURES" not in os.environ  # the user's cache, as for any run
    assert torch.get_num_threads() == threads and os.environ["OMP_NUM_THREADS"] == "7"
    (results / "features").mkdir(parents=True)
    (results / "features" / "digits-cnn-0123456789.pt").touch()
    with same_conditions(plan, results):
        assert os.environ["GENBENCH_FEATURES"] == str(results / "features")
    assert "GENBENCH_FEATURES" not in os.environ
    monkeypatch.setenv("GENBENCH_FEATURES", "mine")  # a user's own setting is kept
    with same_conditions(plan, results):
        assert os.environ["GENBENCH_FEATURES"] == "mine"


@pytest.mark.slow
def test_cli_in_a_new_process_reproduces_a_quick_run_exactly(tmp_path):
    """The stored run and its reproduction in two processes, sample quality (a feature space
    trained once and cached) included: every metric but the timings identical, exit code 0."""
    overrides = [a for kv in [*TINY["vae"], *QUICK] for a in ("--set", kv)]
    env = subprocess_env()

    def genbench(*args):
        return subprocess.run(
            [sys.executable, "-m", "genbench", *args], capture_output=True, text=True, env=env,
            cwd=tmp_path, timeout=900,
        )  # fmt: skip

    first = genbench("run", "--model", "vae", "--dataset", "digits", *overrides)
    assert first.returncode == 0, first.stderr
    run_id = next(p.name for p in (tmp_path / "results" / "runs").iterdir() if p.name[:3] == "vae")
    again = genbench("reproduce", run_id.rsplit("-", 1)[1])
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert lines[-1].startswith("identical: all ")
    table = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert table["fd"][-1] == "0" and table["bpd"][-1] == "0"
    assert table["train_seconds"][-3:] == ["(measured:", "not", "compared)"]
    stored = json.loads((tmp_path / "results" / "runs" / run_id / "result.json").read_text())
    rerun_json = tmp_path / "results" / "reproduce" / run_id / "runs" / run_id / "result.json"
    rerun = json.loads(rerun_json.read_text())
    for name, value in stored["metrics"].items():
        if not is_measurement(name):
            assert rerun["metrics"][name] == value, name


def test_cli_exit_codes(stored, tmp_path, capsys):
    out, record = stored
    assert main(["reproduce", "zzz", "--results", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genbench: error: no run 'zzz' under") and "\n" not in err
    code = main(["reproduce", record.run_id, "--results", str(out), "--out", str(tmp_path / "r")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.splitlines()[0].startswith(f"reproduced {record.run_id} -> {tmp_path / 'r'}")
