"""A stored run found again by its id (or the start of it), and its RunConfig rebuilt from its
result.json alone: what `genbench sample` and `genbench reproduce` start from. And a finished
run found again from what `genbench run` was asked, without importing torch."""

from __future__ import annotations

import glob
import json
from pathlib import Path

from genbench.config import RunConfig, agrees, flatten, requested, resolve, run_id_of
from genbench.errors import GenbenchError
from genbench.results.record import RunResult
from genbench.results.store import RUNS, DamagedResult, load_result, read_result

SHOWN = 8  # candidates named in an error, at most


def find_run(results: Path, text: str) -> tuple[Path, RunResult]:
    """The folder and record of the run under `results/runs/` whose id is `text`, or the one
    run whose id, or whose short id (the hash `genbench results` shows), starts with it. None,
    several, or a run without a readable result.json: a one-line GenbenchError naming them."""
    runs = results / RUNS
    if not text.strip():
        raise GenbenchError("a run id must not be empty: give the id genbench results shows")
    if not runs.is_dir():
        raise GenbenchError(f"no runs under {runs}: pass --results DIR, the folder runs wrote to")
    names = sorted(p.name for p in runs.iterdir() if p.is_dir() and not p.name.startswith("."))
    matches = [text] if text in names else [n for n in names if starts(n, text)]
    if not matches:
        there = f"runs there: {listing(names)}" if names else "it holds no runs"
        raise GenbenchError(f"no run '{text}' under {runs}; {there}")
    if len(matches) > 1:
        raise GenbenchError(
            f"run id '{text}' is ambiguous: {len(matches)} runs under {runs} start with it "
            f"({listing(matches)}); give more of the id"
        )
    directory = runs / matches[0]
    try:
        record = load_result(directory)
    except DamagedResult as error:
        raise GenbenchError(f"run {directory}: {error}") from None
    if record is None:
        raise GenbenchError(
            f"run {directory} has no result.json: it has not finished (genbench run resumes it)"
        )
    return directory, record


def starts(run_id: str, text: str) -> bool:
    """Whether `text` begins the run id or its short id (its last part: the config's hash)."""
    return run_id.startswith(text) or run_id.rsplit("-", 1)[-1].startswith(text)


def listing(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def stored_overrides(config: dict) -> list[str]:
    """Every setting of a stored config as a `section.key=value` override (JSON values, which
    the overrides read back as the same values): applied after every preset, they give back
    the stored config whatever the presets say today."""
    return [f"{key}={json.dumps(value)}" for key, value in flatten(config).items()]


def stored_config(record: RunResult, extra: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """The RunConfig of a stored run, from its recorded config, then `extra` overrides on top
    (checked as any override is). A config that no longer resolves (a key genbench has since
    dropped), or a run trained with a student's functions, is a one-line GenbenchError."""
    config = record.config
    model, dataset, seed = (config.get(k) for k in ("model_name", "dataset_name", "seed"))
    if not (isinstance(model, str) and isinstance(dataset, str) and isinstance(seed, int)):
        raise GenbenchError(
            f"run {record.run_id}: its result.json holds no config to rebuild the run from "
            "(model_name, dataset_name and seed are missing)"
        )
    if config.get("impl"):
        raise GenbenchError(
            f"run {record.run_id} was trained with a student's functions (config.impl), "
            "which genbench does not load again: use genbench run --impl with their folder"
        )
    base = stored_overrides(config)
    try:
        resolve(model, dataset, seed, base)
    except GenbenchError as error:
        raise GenbenchError(
            f"run {record.run_id}: its stored config does not resolve with this genbench ({error})"
        ) from None
    return resolve(model, dataset, seed, [*base, *extra])


def finished_run(
    out: Path, model: str, dataset: str, seed: int, overrides: list[str] | tuple[str, ...] = ()
) -> tuple[Path, RunResult] | None:
    """The folder and record of the finished run (done or diverged) under `out`/runs that
    `genbench run` with these arguments would find and not train again, found from the presets
    and the stored result.json files alone: nothing imports the model, the dataset or torch,
    so a finished run is reported in well under a second. None where no stored run's config
    surely agrees with the request (`config.agrees`): then `resolve` and `run` decide, as
    before."""
    asked = requested(model, dataset, seed, overrides)
    prefix = f"{model}-{dataset}-s{seed}-"
    for directory in sorted((out / RUNS).glob(glob.escape(prefix) + "*")):
        record = read_result(directory)
        if record is None or not record.finished or record.run_id != directory.name:
            continue
        # the request's config, and the one the folder is named after
        if agrees(asked, record.config) and run_id_of(record.config) == directory.name:
            return directory, record
    return None
