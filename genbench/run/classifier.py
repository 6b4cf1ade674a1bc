"""Fit a classifier, then score its predictions with the classification scorecard."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genbench.config import RunConfig
from genbench.data.base import Dataset
from genbench.progress import Phases
from genbench.registry import lookup
from genbench.results.record import RunResult
from genbench.results.store import write_json_atomic
from genbench.run.record import run_result


def fit_and_score(
    cfg: RunConfig,
    data: Dataset,
    estimator: Any,
    directory: Path,
    announce: Callable[[str], None] | None,
) -> RunResult:
    """Fit a classifier (on train and val together unless it uses validation data itself), then
    score its predictions on the test split with the classification scorecard."""
    import numpy as np

    from genbench.classifiers.base import features
    from genbench.evaluation.classification import (
        calibration_bins,
        classification_metrics,
        complexity,
        save_confusion,
    )

    if announce is not None:
        announce(f"fitting {cfg.model_name} on {cfg.dataset_name}, seed {cfg.seed} -> {directory}")
    family = lookup("model", cfg.model_name).load()
    (x_train, y_train), (x_val, y_val) = features(data.train), features(data.val)
    x_test, y_test = features(data.test)
    started = time.perf_counter()
    if family.uses_validation:
        estimator.fit(x_train, y_train, validation=(x_val, y_val))
    else:
        estimator.fit(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]))
    fit_seconds = time.perf_counter() - started

    started = time.perf_counter()
    with Phases().phase("predictions", f"{len(x_test)} test examples") as progress:
        # columns of proba_seen: the classes seen in training
        if hasattr(estimator, "predict_proba_and_labels"):  # a generative classifier: one pass
            proba_seen, predicted = estimator.predict_proba_and_labels(x_test, progress)
        else:
            proba_seen, predicted = estimator.predict_proba(x_test), estimator.predict(x_test)
    predict_seconds = time.perf_counter() - started
    num_classes = data.spec.num_classes
    proba = np.zeros((len(x_test), num_classes))
    proba[:, estimator.classes_.astype(int)] = proba_seen

    metrics: dict[str, Any] = classification_metrics(proba, predicted, y_test, num_classes)
    if hasattr(estimator, "likelihood_kind_"):  # a generative classifier: which log p(x|y)
        metrics["likelihood_kind"] = estimator.likelihood_kind_
    metrics |= complexity(estimator)
    metrics |= {
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "n_train": len(x_train) + (0 if family.uses_validation else len(x_val)),
    }
    subject = f"{cfg.model_name} on {cfg.dataset_name}"
    save_confusion(predicted, y_test, num_classes, directory, subject)
    write_json_atomic(directory / "calibration.json", calibration_bins(proba, y_test))
    import torch

    timings = {"fit_seconds": fit_seconds, "predict_seconds": predict_seconds}
    return run_result(cfg, data, "done", metrics, torch.device("cpu"), timings, resumed=False)
