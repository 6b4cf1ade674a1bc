"""The dataset's sample-quality feature space, and the reference rows stored beside the runs:
real training images (the best a model can honestly do) and noise (the worst)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from genbench.config import RunConfig
from genbench.data.base import Dataset
from genbench.environment import describe_device, versions
from genbench.paths import fallback_features_dir, features_dir
from genbench.registry import lookup
from genbench.results.record import RunResult
from genbench.results.store import read_result, run_dir, write_result
from genbench.run.build import default_data_dir


def quality_space(
    cfg: RunConfig,
    data: Dataset,
    data_dir: Path | None,
    out: Path,
    announce: Callable[[str], None] | None = None,
) -> Any:
    """The dataset's feature space (trained on its full training split, once, into the user's
    cache, or into <out>/features where that cannot be written; `announce` says so first), and
    beside the runs the reference rows of real training images and of noise."""
    from genbench.evaluation.features import feature_space

    full = data
    if cfg.data.train_fraction < 1.0:
        full = (
            lookup("dataset", cfg.dataset_name)
            .load()
            .load(cfg.data, data_dir or default_data_dir())
        )
    with preserved_rng():  # training the extractor (the first time) must not change the run's
        space = feature_space(
            cfg.dataset_name, full, cfg.data, features_dir(), announce, fallback_features_dir(out)
        )
        write_references(cfg, full, space, out)
    return space


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore torch's, numpy's and Python's global random states afterwards."""
    import random

    import numpy as np
    import torch

    states = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
        yield
    random.setstate(states[0])
    np.random.set_state(states[1])


def write_references(cfg: RunConfig, data: Dataset, space: Any, out: Path) -> None:
    """Store the train-vs-test and noise-vs-test sample-quality rows for this dataset, feature
    space and number of samples, unless they are stored already."""
    from genbench.evaluation.scorecard import reference_quality

    n = cfg.eval.quality_samples
    ids = {kind: f"reference-{kind}-{space.id}-n{n}" for kind in ("train", "noise")}
    if all(read_result(run_dir(out, run_id)) is not None for run_id in ids.values()):
        return
    import torch

    for kind, metrics in reference_quality(data, space, n, seed=0).items():
        reference = RunResult(
            run_id=ids[kind],
            model=f"reference-{kind}",
            dataset=cfg.dataset_name,
            seed=0,
            status="done",
            kind="reference",
            metrics=metrics,
            config={
                "dataset_name": cfg.dataset_name,
                "data": dataclasses.asdict(cfg.data),
                "eval": {"quality_samples": n},
            },
            versions=versions(),
            device=describe_device(torch.device("cpu")),
            timings={},
        )
        write_result(run_dir(out, ids[kind]), reference)
