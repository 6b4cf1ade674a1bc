"""Stored runs written directly (no training), for report tests whose answer is set by hand:
a real config from the presets, chosen metrics, and a samples.png of the caller's pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genbench.config import resolve
from genbench.registry import is_classifier
from genbench.results.record import RunResult
from genbench.results.store import run_dir, write_result


def fake_run(
    out: Path,
    model: str,
    metrics: dict[str, Any],
    *overrides: str,
    dataset: str = "digits",
    seed: int = 0,
    status: str = "done",
    threads: int = 1,
    pixels: int | None = None,
) -> RunResult:
    """Store a finished run of `model` with `metrics`; with `pixels`, a samples.png filled with
    that grey level, so a test can tell the runs' images apart."""
    import matplotlib.pyplot as plt

    cfg = resolve(model, dataset, seed, list(overrides))
    kind = "classifier" if is_classifier(model) else "generative"
    result = RunResult(
        run_id=cfg.run_id,
        model=model,
        dataset=dataset,
        seed=seed,
        status=status,
        kind=kind,
        metrics=metrics,
        config=cfg.to_dict(),
        versions={"genbench": "test"},
        device={"type": "cpu", "name": "x86_64", "cpu_threads": threads},
        timings={},
    )
    directory = run_dir(out, result.run_id)
    write_result(directory, result)
    if pixels is not None:
        plt.imsave(directory / "samples.png", np.full((8, 8), pixels, dtype=np.uint8), cmap="gray")
    return result


def fake_reference(out: Path, kind: str, n: int, fd: float, dataset: str = "digits") -> None:
    """A reference row (real training images or noise) scored on `n` samples."""
    result = RunResult(
        run_id=f"reference-{kind}-{dataset}-cnn-0-n{n}",
        model=f"reference-{kind}",
        dataset=dataset,
        seed=0,
        status="done",
        kind="reference",
        metrics={"fd": fd},
        config={"dataset_name": dataset, "data": {}, "eval": {"quality_samples": n}},
        versions={"genbench": "test"},
        device={"type": "cpu", "name": "x86_64", "cpu_threads": 1},
        timings={},
    )
    write_result(run_dir(out, result.run_id), result)
