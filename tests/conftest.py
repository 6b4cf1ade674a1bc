"""Shared test helpers: tiny per-model settings so every test trains in seconds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import genbench
from genbench.config import RunConfig, resolve

# Per-model overrides that make a model small enough to train in a second or two on 2 CPU cores.
# A new model adds its line here and gets the contract tests of tests/models/test_contract.py.
TINY: dict[str, list[str]] = {
    "ddpm": ["model.timesteps=50", "model.channels=8"],
    "gan": ["model.width=8", "model.latent_dim=8"],
    "vae": ["model.hidden=32", "model.layers=1", "model.latent_dim=4"],
    "ae": ["model.hidden=32", "model.layers=1", "model.latent_dim=4", "model.gmm_components=2"],
    "transformer": ["model.n_layer=1", "model.n_embd=16", "model.n_head=2"],
    "rnn": ["model.hidden=16", "model.layers=1"],
    "hmm": ["model.states=4"],
    "flow": ["model.couplings=2", "model.hidden=8", "model.blocks=1"],
}
# trainer.threads=auto follows OMP_NUM_THREADS: fixed for the session (torch's own count), so two
# runs a test compares bit for bit never differ by a change in the machine's load between them
os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))
QUICK = ["trainer.preset=quick", "eval.iwae_k=4", "eval.n_samples=8", "eval.quality_samples=50"]


def tiny_config(model: str, dataset: str = "digits", *extra: str, seed: int = 0) -> RunConfig:
    """The run config of a tiny, quick version of `model` on `dataset`."""
    return resolve(model, dataset, seed, [*TINY[model], *QUICK, *extra])


@pytest.fixture(autouse=True)
def _isolated_user_folders(tmp_path_factory, monkeypatch):
    """Never read, download or train into the user's folders (~/.cache/genbench) from a test:
    a fresh data folder per test, and one genbench cache folder for the whole session, so each
    dataset's feature extractor trains once. Subprocesses and suite runs inherit both."""
    monkeypatch.setenv("GENBENCH_DATA", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("GENBENCH_FEATURES", raising=False)  # a user's own: not for tests


def subprocess_env() -> dict[str, str]:
    """This checkout's genbench first on the path, whatever is installed."""
    source = str(Path(genbench.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
