"""A store with one damaged run of each kind: `genbench results` and `genbench report` show the
others, name each damaged one, and mark no diverged run's figure as the best."""

import json

import pytest

from genbench.cli import main
from genbench.config import resolve
from genbench.results.store import write_json_atomic

DAMAGED = {  # folder -> what lies where its result.json belongs
    "truncated": b'{"run_id": "truncated", "model": "va',
    "binary": bytes(range(256)),
    "a-list": b"[1, 2, 3]\n",
    "wrong-types": json.dumps(
        {
            "run_id": "x",
            "model": "vae",
            "dataset": "digits",
            "seed": "zero",
            "status": "done",
            "metrics": {},
        }
    ).encode(),
    "bpd-a-string": json.dumps(
        {
            "run_id": "x",
            "model": "vae",
            "dataset": "digits",
            "seed": 0,
            "status": "done",
            "metrics": {"bpd": "low"},
        }
    ).encode(),
    "metrics-a-list": json.dumps(
        {
            "run_id": "x",
            "model": "vae",
            "dataset": "digits",
            "seed": 0,
            "status": "done",
            "metrics": [1.0],
        }
    ).encode(),
}


def stored(out, latent_dim, seed, status="done", **metrics):
    """Write a well-formed result.json of a vae run on digits; return its run id."""
    cfg = resolve("vae", "digits", seed, [f"model.latent_dim={latent_dim}"])
    record = {
        "run_id": cfg.run_id, "model": "vae", "dataset": "digits", "seed": seed,
        "status": status, "kind": "generative", "metrics": metrics, "config": cfg.to_dict(),
    }  # fmt: skip
    if status == "failed":
        record["error"] = "boom"
    write_json_atomic(out / "runs" / cfg.run_id / "result.json", record)
    return cfg.run_id


@pytest.fixture
def store(tmp_path):
    out = tmp_path / "results"
    good = [
        stored(out, 16, 0, bpd=2.2, bpd_kind="elbo", train_seconds=10.0),
        stored(out, 16, 1, bpd=2.3, bpd_kind="elbo", train_seconds=11.0),
        stored(out, 4, 0, bpd=2.5, bpd_kind="elbo", train_seconds=20.0),
    ]
    diverged = stored(out, 8, 0, "diverged", train_seconds=1.0, diverged_step=7)
    failed = stored(out, 2, 0, "failed")
    for name, content in DAMAGED.items():
        (out / "runs" / name).mkdir()
        (out / "runs" / name / "result.json").write_bytes(content)
    (out / "runs" / "a-folder" / "result.json").mkdir(parents=True)
    (out / "runs" / ".DS_Store").write_bytes(b"\x00\x01")
    (out / "runs" / "stray").write_text("not a run")
    return out, good, diverged, failed


def no_traceback(err):
    assert "Traceback" not in err and all(
        line.startswith("genbench: ") for line in err.splitlines()
    )


def test_results_shows_the_others_and_names_the_damaged(store, capsys):
    out, good, diverged, failed = store
    assert main(["results", "--out", str(out), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    for run_id in [*good, diverged, failed]:
        assert run_id in captured.out
    no_traceback(captured.err)
    for name in [*DAMAGED, "a-folder"]:
        assert f"skipping run {out / 'runs' / name}: result.json" in captured.err, name
    assert "ignoring" in captured.err and "stray" in captured.err
    assert ".DS_Store" not in captured.err  # hidden files are nobody's runs


def test_report_shows_the_others_names_the_damaged_and_never_crowns_a_diverged_run(
    store, capsys, tmp_path
):
    out, _, _, failed = store
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    captured = capsys.readouterr()
    no_traceback(captured.err)
    for name in [*DAMAGED, "a-folder"]:
        assert f"skipping run {out / 'runs' / name}" in captured.err, name
    assert f"leaving out failed run {out / 'runs' / failed}" in captured.err
    text = (tmp_path / "report" / "report.md").read_text()
    assert "4 runs (1 diverged; 1 failed, not shown)" in text
    row = next(line for line in text.splitlines() if "latent_dim=8" in line)
    assert "(1 diverged)" in row and "**" not in row  # 1.0 s is the fastest, but not a finish
    fastest = next(line for line in text.splitlines() if "latent_dim=16" in line)
    assert "**10.5 ± 0.7**" in fastest and "**2.250 ± 0.071 (elbo)**" in fastest


@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_report_out_that_cannot_be_a_folder_is_one_line(store, capsys, tmp_path, where):
    out, *_ = store
    blocker = tmp_path / "blocker"
    blocker.write_text("keep me")
    target = blocker if where == "file" else blocker / "report"
    assert main(["report", str(out), "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(target) in err and blocker.read_text() == "keep me"
