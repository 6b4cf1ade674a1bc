"""The report's input: one row per finished run from the store, labelled by what tells its
runs apart (the settings its model reads that differ between its runs, its preset when not the
default, a reference's sample count), and the command that reproduces each from its config."""

from __future__ import annotations

import functools
import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from genbench.config import CONFIG_DIR, SECTIONS, flatten, read_preset
from genbench.errors import GenbenchError
from genbench.registry import TABLES
from genbench.results.store import RUNS, iter_results, warn_stderr

SMOKE_PRESET = "quick"  # configs/trainer/quick.yaml: a smoke run, never a table's best


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
        preset = (config.get("trainer") or {}).get("preset", "default")
        row = {
            "run_id": r.run_id,
            "model": r.model,
            "dataset": r.dataset,
            "seed": r.seed,
            "status": r.status,
            "kind": r.kind or "generative",
            "train_fraction": (config.get("data") or {}).get("train_fraction", 1.0),
            "config": config,
            "preset": preset if r.kind != "reference" else None,
            "smoke": preset == SMOKE_PRESET and r.kind != "reference",
            "threads": (r.device or {}).get("cpu_threads"),
            "data_spec": r.data_spec or {},
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


def variant_labels(table: pd.DataFrame) -> list[str]:
    """Each run's label: its model, the settings that differ between the model's runs of one
    preset on a dataset and that the model reads (not the seed nor the training fraction: those
    are columns), and its preset unless the default ("vae (latent_dim=8; quick preset)"). A
    reference row says how many samples it scored."""
    labels = {}
    for (_, model), group in table.groupby(["dataset", "model"]):
        if (group["kind"] == "reference").all():
            for i, row in group.iterrows():
                config, run_id = row["config"], row["run_id"]
                stored = re.search(r"-n(\d+)$", run_id)  # older stores: the count is in the id
                n = (config.get("eval") or {}).get("quality_samples") or (stored and stored[1])
                labels[i] = f"{model} ({n} samples)" if n else model
            continue
        entry = TABLES["model"].get(model)
        reads = entry.reads if entry is not None else SECTIONS
        flat = {i: flatten(c, reads) for i, c in zip(group.index, group["config"], strict=True)}
        ignored = {"data.train_fraction", "trainer.preset"}
        # a key the preset sets differs between presets by design: the label names the preset
        by_preset = set().union(*(preset_keys(p) for p in group["preset"].dropna().unique()))
        varying = differing([flat[i] for i in group.index], ignored | by_preset)
        for _, same_preset in group.groupby("preset", dropna=False):
            varying |= differing([flat[i] for i in same_preset.index], ignored)
        for i, preset in zip(group.index, group["preset"], strict=True):
            detail = ", ".join(f"{k.split('.', 1)[1]}={flat[i].get(k)}" for k in sorted(varying))
            parts = [detail] if detail else []
            parts += [f"{preset} preset"] if preset not in (None, "default") else []
            labels[i] = f"{model} ({'; '.join(parts)})" if parts else model
    return [labels[i] for i in table.index]


def differing(runs: list[dict[str, Any]], ignored: set[str]) -> set[str]:
    """The keys of flattened configs whose values are not all the same."""
    keys = {k for f in runs for k in f} - ignored
    return {k for k in keys if len({json.dumps(f.get(k)) for f in runs}) > 1}


@functools.cache
def preset_keys(preset: str) -> frozenset[str]:
    """The 'section.key's a trainer preset (configs/trainer/<preset>.yaml) sets; none for the
    default or a preset that is not there any more."""
    path = CONFIG_DIR / "trainer" / f"{preset}.yaml"
    if preset == "default" or not path.is_file():
        return frozenset()
    try:
        return frozenset(flatten(read_preset(path)))
    except GenbenchError:
        return frozenset()


def reproduce(config: dict[str, Any]) -> str:
    """The `genbench run` command for a stored config, from that config alone: every setting
    of its sections becomes a --set override (those are applied after every preset), so the
    command gives back this run whatever the presets say today."""
    model, dataset, seed = config["model_name"], config["dataset_name"], config["seed"]
    command = f"genbench run --model {model} --dataset {dataset} --seed {seed}"
    for key, value in flatten(config).items():
        command += f" --set {shlex.quote(f'{key}={json.dumps(value)}')}"
    return command
