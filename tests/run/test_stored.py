"""Finding a stored run by (the start of) its id, and rebuilding its config from result.json."""

from __future__ import annotations

import json
import shutil

import pytest

import genbench.config as config
from genbench.config import resolve
from genbench.errors import GenbenchError
from genbench.run.stored import find_run, finished_run, stored_config
from tests.report.fake import fake_reference, fake_run

METRICS = {"bpd": 2.0, "bpd_kind": "elbo"}


@pytest.fixture
def store(tmp_path):
    """Three VAE runs and a reference row; ids vae-digits-s<seed>-<hash>."""
    runs = [
        fake_run(tmp_path, "vae", METRICS, "model.latent_dim=8"),
        fake_run(tmp_path, "vae", METRICS, "model.latent_dim=9"),
        fake_run(tmp_path, "vae", METRICS, seed=1),
    ]
    fake_reference(tmp_path, "train", 100, 3.0)
    return tmp_path, runs


def test_the_whole_id_a_prefix_or_the_short_id_finds_the_run(store):
    out, (a, _, c) = store
    assert find_run(out, a.run_id)[1].run_id == a.run_id
    assert find_run(out, "vae-digits-s1")[1].run_id == c.run_id
    short = a.run_id.rsplit("-", 1)[1]  # the id `genbench results` shows
    assert find_run(out, short[:6])[0] == out / "runs" / a.run_id


def test_an_ambiguous_prefix_lists_the_candidates(store):
    out, runs = store
    with pytest.raises(GenbenchError) as info:
        find_run(out, "vae-digits-s0")
    message = str(info.value)
    assert "\n" not in message and "ambiguous: 2 runs" in message
    assert runs[0].run_id in message and runs[1].run_id in message
    assert runs[2].run_id not in message


def test_an_unknown_id_lists_the_runs_there(store):
    out, runs = store
    with pytest.raises(GenbenchError, match="no run 'gan' under") as info:
        find_run(out, "gan")
    assert all(r.run_id in str(info.value) for r in runs)
    with pytest.raises(GenbenchError, match="no runs under"):
        find_run(out / "elsewhere", "vae")
    with pytest.raises(GenbenchError, match="must not be empty"):
        find_run(out, " ")


def test_a_run_without_a_readable_result_is_named(store):
    out, (a, _, _) = store
    (out / "runs" / a.run_id / "result.json").write_text("{ truncated")
    with pytest.raises(GenbenchError, match=r"result\.json is not valid JSON"):
        find_run(out, a.run_id)
    (out / "runs" / "vae-digits-s0-unfinished").mkdir()
    with pytest.raises(GenbenchError, match=r"has no result\.json: it has not finished"):
        find_run(out, "vae-digits-s0-unf")


@pytest.mark.parametrize(
    "overrides",
    [
        (),
        ("model.lr=1e-5", "model.decoder=discretized_logistic", "eval.likelihood_examples=null"),
        ("trainer.preset=quick", "trainer.devices=1", "data.train_fraction=0.5"),
    ],
)
def test_the_stored_config_comes_back_whole(tmp_path, overrides):
    run = fake_run(tmp_path, "vae", METRICS, *overrides, seed=3)
    again = stored_config(run)
    assert again.run_id == run.run_id
    assert again.to_dict() == run.config


def test_the_stored_config_wins_over_todays_presets(tmp_path, monkeypatch):
    """A preset changed since the run (latent_dim 16 -> 5) does not change the rebuilt config."""
    run = fake_run(tmp_path, "vae", METRICS)
    presets = tmp_path / "presets"
    shutil.copytree(config.CONFIG_DIR, presets)
    vae = presets / "models" / "vae.yaml"
    vae.write_text(vae.read_text().replace("latent_dim: 16", "latent_dim: 5"))
    monkeypatch.setattr(config, "CONFIG_DIR", presets)
    assert resolve("vae", "digits").model.latent_dim == 5
    assert stored_config(run).model.latent_dim == run.config["model"]["latent_dim"] == 16


def test_extra_overrides_are_checked(tmp_path):
    run = fake_run(tmp_path, "transformer", METRICS)
    assert stored_config(run, ["model.temperature=0.5"]).model.temperature == 0.5
    with pytest.raises(GenbenchError, match=r"model\.temperature=0 is not valid"):
        stored_config(run, ["model.temperature=0"])


def test_a_config_genbench_no_longer_reads_is_one_line(tmp_path):
    run = fake_run(tmp_path, "vae", METRICS)
    run.config["model"]["beta"] = 4.0  # a key since removed
    with pytest.raises(GenbenchError) as info:
        stored_config(run)
    assert str(info.value).startswith(f"run {run.run_id}: its stored config does not resolve")
    assert "model.beta" in str(info.value)


def test_no_config_or_a_students_run_is_refused(tmp_path):
    run = fake_run(tmp_path, "vae", METRICS)
    student = json.loads(json.dumps(run.config)) | {"impl": {"file": "attention.py"}}
    with pytest.raises(GenbenchError, match="trained with a student's functions"):
        stored_config(type(run)(**{**run.__dict__, "config": student}))
    with pytest.raises(GenbenchError, match="holds no config"):
        stored_config(type(run)(**{**run.__dict__, "config": {}}))


def test_a_finished_run_is_found_from_the_request_alone(tmp_path):
    """`genbench run` finds a finished run from its presets and overrides, however they spell
    its config, and never a run of another config, an unfinished one, or one whose result's
    config is not the one its folder is named after."""
    done = fake_run(tmp_path, "vae", METRICS, "trainer.preset=quick")
    fake_run(tmp_path, "vae", METRICS, "trainer.preset=quick", "model.latent_dim=8")
    fake_run(tmp_path, "vae", METRICS, "model.latent_dim=9", status="failed")
    for overrides in (["trainer.preset=quick"], ["model.lr=1e-3", "trainer.preset=quick"]):
        directory, record = finished_run(tmp_path, "vae", "digits", 0, overrides)
        assert record.run_id == done.run_id and directory == tmp_path / "runs" / done.run_id
    assert finished_run(tmp_path, "vae", "digits", 0, ["model.latent_dim=9"]) is None  # failed
    assert finished_run(tmp_path, "vae", "digits", 1, ["trainer.preset=quick"]) is None
    assert finished_run(tmp_path, "vae", "digits", 0, []) is None  # not the quick preset
    assert finished_run(tmp_path / "elsewhere", "vae", "digits", 0, []) is None
    # a result.json edited by hand to another config: its folder's name no longer matches it
    path = tmp_path / "runs" / done.run_id / "result.json"
    record = json.loads(path.read_text())
    record["config"]["model"]["latent_dim"] = 7
    path.write_text(json.dumps(record))
    assert finished_run(tmp_path, "vae", "digits", 0, ["trainer.preset=quick"]) is None
    seven = ["trainer.preset=quick", "model.latent_dim=7"]
    assert finished_run(tmp_path, "vae", "digits", 0, seven) is None
    with pytest.raises(GenbenchError, match="unknown model 'vea'"):
        finished_run(tmp_path, "vea", "digits", 0, [])
