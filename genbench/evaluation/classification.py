"""The classification scorecard: the same metrics, computed the same way, for every classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss
from torchmetrics.functional.classification import multiclass_calibration_error

from genbench.results.store import atomic_path, write_text_atomic

ECE_BINS = 15


def classification_metrics(
    proba: np.ndarray, predicted: np.ndarray, y: np.ndarray, num_classes: int
) -> dict[str, float]:
    """Accuracy and macro F1 of the predicted labels (n,); log loss (mean NLL in nats) and
    expected calibration error (15 equal-width bins of the top probability, L1) of the predicted
    probabilities (n, classes); all against the true labels y (n,).

    Labels and probabilities are scored separately because some estimators' predict is not the
    argmax of their predict_proba (an SVM's Platt-scaled probabilities)."""
    labels = np.arange(num_classes)
    ece = multiclass_calibration_error(
        torch.as_tensor(proba, dtype=torch.float64),
        torch.as_tensor(y),
        num_classes=num_classes,
        n_bins=ECE_BINS,
        norm="l1",
    )
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "nll": float(log_loss(y, proba, labels=labels)),
        "ece": float(ece),
        "f1_macro": float(f1_score(y, predicted, labels=labels, average="macro", zero_division=0)),
    }


def calibration_bins(
    proba: np.ndarray, y: np.ndarray, bins: int = ECE_BINS
) -> list[dict[str, float]]:
    """The reliability diagram's data: for each of `bins` equal-width bins of the top
    probability, its mean confidence, its accuracy and its count (empty bins left out)."""
    confidence = proba.max(1)
    correct = proba.argmax(1) == y
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            rows.append(
                {
                    "lower": b / bins,
                    "upper": (b + 1) / bins,
                    "confidence": float(confidence[inside].mean()),
                    "accuracy": float(correct[inside].mean()),
                    "count": int(inside.sum()),
                }
            )
    return rows


def save_confusion(
    predicted: np.ndarray, y: np.ndarray, num_classes: int, out_dir: Path, subject: str = ""
) -> np.ndarray:
    """Write confusion.csv and confusion.png of the predicted and true labels (n,): the
    (classes, classes) counts, rows true class, columns predicted; the figure is titled with
    `subject` ("<model> on <dataset>") and the accuracy."""
    matrix = confusion_matrix(y, predicted, labels=np.arange(num_classes))
    header = "true\\predicted," + ",".join(map(str, range(num_classes)))
    rows = [f"{i}," + ",".join(map(str, row)) for i, row in enumerate(matrix)]
    write_text_atomic(out_dir / "confusion.csv", "\n".join([header, *rows]) + "\n")
    fig = confusion_figure(matrix, confusion_title(subject, np.trace(matrix) / matrix.sum()))
    with atomic_path(out_dir / "confusion.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return matrix


def confusion_title(subject: str, accuracy: float) -> str:
    """The confusion figure's title: "Confusion matrix: <subject>" and the accuracy."""
    name = f"Confusion matrix: {subject}" if subject else "Confusion matrix"
    return f"{name}\naccuracy {accuracy:.4f}"


def confusion_figure(matrix: np.ndarray, title: str) -> Figure:
    """A Figure of the (classes, classes) counts, rows true class, columns predicted, each
    cell's count written in it, titled `title` (at least 4 inches wide, for the title). Not
    pyplot's: nothing global to close; drawn by Agg, whatever matplotlib's backend."""
    k = len(matrix)
    fig = Figure(figsize=(max(4, 1 + 0.45 * k), max(3, 1.5 + 0.4 * k)))
    FigureCanvasAgg(fig)  # becomes fig.canvas
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=7)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    fig.tight_layout()
    return fig


def complexity(estimator: Any) -> dict[str, int]:
    """The size of a fitted estimator: support vectors for SVMs, stored examples for
    nearest neighbours, otherwise the number of values in its fitted float arrays."""
    if hasattr(estimator, "steps"):  # a Pipeline: the size of its final estimator
        return complexity(estimator.steps[-1][1])
    if hasattr(estimator, "calibrated_classifiers_"):  # size of the calibrated estimator
        return complexity(estimator.calibrated_classifiers_[0].estimator)
    if hasattr(estimator, "n_support_"):
        return {"support_vectors": int(estimator.n_support_.sum())}
    if hasattr(estimator, "n_samples_fit_"):
        return {"stored_examples": int(estimator.n_samples_fit_)}
    if hasattr(estimator, "n_parameters_"):  # genbench's own estimators report theirs
        return {"params": int(estimator.n_parameters_)}
    learned = 0
    for name, value in vars(estimator).items():
        if not name.endswith("_") or name.startswith("_") or "count" in name:
            continue  # counts are sufficient statistics kept beside the parameters they give
        arrays = value if isinstance(value, list) else [value]  # QDA keeps lists per class
        learned += sum(a.size for a in arrays if isinstance(a, np.ndarray) and a.dtype.kind == "f")
    return {"params": int(learned)}
