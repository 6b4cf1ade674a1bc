"""Runs: determinism, resuming after an interruption, and divergence recorded, not raised."""

import json
import os

import lightning.pytorch as pl
import pytest

import genbench.runner
import genbench.training
from genbench.models.vae import VAE
from genbench.runner import run
from tests.conftest import tiny_config

SCORE_KEYS = ("bpd", "bpd_iwae", "recon_bpd", "recon_mse", "best_epoch", "epochs", "steps")


def scores(result):
    return {k: result["metrics"][k] for k in SCORE_KEYS}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of the config the tests below interrupt."""
    return run(
        tiny_config("vae", "digits", "trainer.max_epochs=6"), tmp_path_factory.mktemp("ref")
    ).result


@pytest.mark.slow
def test_same_seed_same_numbers(reference, tmp_path):
    again = run(tiny_config("vae", "digits", "trainer.max_epochs=6"), tmp_path).result
    assert scores(again) == scores(reference)
    other_seed = run(tiny_config("vae", "digits", "trainer.max_epochs=6", seed=1), tmp_path).result
    assert scores(other_seed) != scores(reference)


class InterruptAt(pl.Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_numbers(reference, tmp_path, monkeypatch):
    cfg = tiny_config("vae", "digits", "trainer.max_epochs=6")
    monkeypatch.setattr(genbench.training.LastCheckpoint, "every_seconds", 0.0)
    make_trainer = genbench.training.make_trainer

    def interrupted_trainer(*args, **kwargs):
        trainer, best, clock = make_trainer(*args, **kwargs)
        trainer.callbacks.append(InterruptAt(epoch=3))
        return trainer, best, clock

    monkeypatch.setattr(genbench.training, "make_trainer", interrupted_trainer)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path)
    directory = tmp_path / "runs" / cfg.run_id
    assert (directory / "checkpoints" / "last.ckpt").is_file()
    assert not (directory / "result.json").exists()

    monkeypatch.setattr(genbench.training, "make_trainer", make_trainer)
    resumed = run(cfg, tmp_path).result
    assert resumed["resumed"] is True
    assert scores(resumed) == scores(reference)
    assert len(list(directory.glob("logs/version_*/metrics.csv"))) == 2  # one log per attempt


def test_divergence_is_recorded_with_its_step(tmp_path, monkeypatch):
    loss = VAE.loss
    calls = {"n": 0}

    def blows_up(self, x):
        calls["n"] += 1
        value = loss(self, x)
        return value * float("nan") if self.training and calls["n"] > 5 else value

    monkeypatch.setattr(VAE, "loss", blows_up)
    outcome = run(tiny_config("vae", "digits"), tmp_path)
    assert outcome.result["status"] == "diverged"
    assert outcome.result["metrics"]["diverged_step"] == 6  # the 6th step (from 1) was not finite
    stored = json.loads((outcome.directory / "result.json").read_text())
    assert stored["status"] == "diverged"
    monkeypatch.setattr(VAE, "loss", loss)
    assert run(tiny_config("vae", "digits"), tmp_path).reused  # finished: not retried


def test_force_retrains(tmp_path):
    cfg = tiny_config("vae", "digits", "trainer.max_epochs=1")
    first = run(cfg, tmp_path)
    assert not first.reused and run(cfg, tmp_path).reused
    forced = run(cfg, tmp_path, force=True)
    assert not forced.reused and scores(forced.result) == scores(first.result)


def test_a_damaged_last_checkpoint_is_moved_aside_and_the_run_starts_over(tmp_path):
    """A truncated or random last.ckpt is not a traceback: the run says so, keeps the file
    beside it and trains from scratch, to the numbers of a run that never had one."""
    cfg = tiny_config("vae", "digits", "trainer.max_epochs=2", "eval.quality_samples=0")
    clean = run(cfg, tmp_path / "clean").result
    real = (tmp_path / "clean" / "runs" / cfg.run_id / "checkpoints" / "last.ckpt").read_bytes()
    for name, damaged in (("truncated", real[: len(real) // 2]), ("random", os.urandom(4096))):
        last = tmp_path / name / "runs" / cfg.run_id / "checkpoints" / "last.ckpt"
        last.parent.mkdir(parents=True)
        last.write_bytes(damaged)
        said = []
        result = run(cfg, tmp_path / name, announce=said.append).result
        assert result["status"] == "done" and result["resumed"] is False
        assert scores(result) == scores(clean)
        assert any("could not be read" in line and str(last) in line for line in said), said
        (aside,) = last.parent.glob("last.ckpt.damaged-*")
        assert aside.read_bytes() == damaged  # kept, not deleted
