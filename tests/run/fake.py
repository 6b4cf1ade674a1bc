"""Stored runs of untrained tiny models: a real config, a best.ckpt of the freshly built model
and a result.json, written in a second without training (for `genbench sample`'s tests)."""

from __future__ import annotations

from pathlib import Path

import torch

from genbench.results.record import RunResult
from genbench.results.store import run_dir, write_result
from genbench.run.build import build_model, load_dataset
from genbench.run.record import run_result
from tests.conftest import tiny_config


def stored_run(out: Path, model: str, *overrides: str, dataset: str = "digits") -> RunResult:
    """Store a finished run of the tiny `model` (on `dataset`, with `overrides`) whose best.ckpt
    holds its initial weights, as a trained run's holds its best ones."""
    cfg = tiny_config(model, dataset, *overrides)
    data = load_dataset(cfg)
    network = build_model(cfg, data)
    directory = run_dir(out, cfg.run_id)
    (directory / "checkpoints").mkdir(parents=True)
    state = {"state_dict": network.state_dict(), "epoch": 0}
    torch.save(state, directory / "checkpoints" / "best.ckpt")
    record = run_result(cfg, data, "done", {"params": 1}, torch.device("cpu"), {}, False)
    write_result(directory, record)
    return record
