"""The report's input: one row per finished run from the store, labelled by what tells its
runs apart, and the command that reproduces each from its stored config."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from genbench.errors import GenbenchError
from genbench.results.store import RUNS, iter_results, warn_stderr


def load_runs(results: Path, warn: Callable[[str], None] = warn_stderr) -> pd.DataFrame:
    """One row per finished run (done or diverged) with its metrics, its variant label and its
    folder. Failed runs are left out, and damaged ones skipped, each named by `warn`; the
    table's `attrs["failed"]` counts the failed."""
    rows, failed = [], 0
    for directory, r in iter_results(results, warn):
        if not r.finished:
            failed += 1
            warn(f"leaving out failed run {directory}: {str(r.error or '')[:100]}")
            continue
        config = r.config
        if r.kind != "reference" and not reproducible(config):
            warn(f"skipping run {directory}: its config lacks model_name, dataset_name or seed")
            continue
        row = {
            "run_id": r.run_id,
            "model": r.model,
            "dataset": r.dataset,
            "seed": r.seed,
            "status": r.status,
            "kind": r.kind or "generative",
            "train_fraction": (config.get("data") or {}).get("train_fraction", 1.0),
            "config": config,
            "versions": json.dumps(r.versions or {}, sort_keys=True),
            "device": str((r.device or {}).get("name", "")),
            "dir": directory,
            **r.metrics,
        }
        rows.append(row)
    if not rows:
        raise GenbenchError(
            f"no finished runs under {results / RUNS}: run genbench run or genbench suite first"
        )
    table = pd.DataFrame(rows)
    table["variant"] = variant_labels(table)
    table.attrs["failed"] = failed
    return table


def reproducible(config: dict[str, Any]) -> bool:
    """Whether a stored config names what `genbench run` needs: model, dataset and seed."""
    names = isinstance(config.get("model_name"), str) and isinstance(
        config.get("dataset_name"), str
    )
    return names and isinstance(config.get("seed"), int)


def flatten(config: dict[str, Any]) -> dict[str, Any]:
    """{'model': {'lr': 0.1}} -> {'model.lr': 0.1}, for the sections of a run config."""
    return {
        f"{section}.{key}": value
        for section in ("model", "data", "trainer", "eval")
        for key, value in (config.get(section) or {}).items()
    }


def variant_labels(table: pd.DataFrame) -> list[str]:
    """The model's name, plus the settings that tell its runs apart on a dataset (the seed and
    the training fraction are columns of their own)."""
    labels = {}
    for (_, _), group in table.groupby(["dataset", "model"]):
        flat = {i: flatten(c) for i, c in zip(group.index, group["config"], strict=True)}
        keys = sorted({k for f in flat.values() for k in f} - {"data.train_fraction"})
        varying = [k for k in keys if len({json.dumps(f.get(k)) for f in flat.values()}) > 1]
        for i, model in zip(group.index, group["model"], strict=True):
            detail = ", ".join(f"{k.split('.', 1)[1]}={flat[i].get(k)}" for k in varying)
            labels[i] = f"{model} ({detail})" if detail else model
    return [labels[i] for i in table.index]


def reproduce(config: dict[str, Any]) -> str:
    """The `genbench run` command for a stored config, from that config alone: every setting
    of its sections becomes a --set override (those are applied after every preset), so the
    command gives back this run whatever the presets say today."""
    model, dataset, seed = config["model_name"], config["dataset_name"], config["seed"]
    command = f"genbench run --model {model} --dataset {dataset} --seed {seed}"
    for key, value in flatten(config).items():
        command += f" --set {shlex.quote(f'{key}={json.dumps(value)}')}"
    return command
