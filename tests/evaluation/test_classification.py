import math
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

import genbench.evaluation.classification as classification
from genbench.evaluation.classification import (
    calibration_bins,
    classification_metrics,
    complexity,
    confusion_figure,
    confusion_title,
    save_confusion,
)


def test_metrics_on_a_hand_computed_case():
    # three examples, two classes; top probabilities 0.9 (right), 0.6 (wrong), 0.8 (right)
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    y = np.array([0, 1, 1])
    m = classification_metrics(proba, proba.argmax(1), y, num_classes=2)
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["nll"] == pytest.approx(-(math.log(0.9) + math.log(0.4) + math.log(0.8)) / 3)
    # ECE with 15 equal bins: each example alone in its bin; |confidence - accuracy| weighted 1/3
    assert m["ece"] == pytest.approx((abs(0.9 - 1) + abs(0.6 - 0) + abs(0.8 - 1)) / 3)
    # macro F1: class 0 precision 1/2 recall 1 -> 2/3; class 1 precision 1 recall 1/2 -> 2/3
    assert m["f1_macro"] == pytest.approx(2 / 3)


def test_labels_and_probabilities_are_scored_apart():
    proba = np.array([[0.6, 0.4], [0.6, 0.4]])
    m = classification_metrics(proba, np.array([1, 1]), np.array([1, 1]), num_classes=2)
    assert m["accuracy"] == 1.0 and m["nll"] == pytest.approx(-math.log(0.4))


def test_confusion_matrix_files(tmp_path, monkeypatch):
    titles = []
    drawn = classification.confusion_figure
    monkeypatch.setattr(
        classification, "confusion_figure", lambda m, title: titles.append(title) or drawn(m, title)
    )
    matrix = save_confusion(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3, tmp_path, "a on b")
    assert titles == ["Confusion matrix: a on b\naccuracy 0.7500"]  # 3 of 4 right
    assert matrix.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    lines = (tmp_path / "confusion.csv").read_text().splitlines()
    assert lines[3] == "2,0,1,1" and (tmp_path / "confusion.png").stat().st_size > 0


def test_the_confusion_title_names_the_run_and_its_accuracy():
    assert confusion_title("knn on digits", 0.91333) == (
        "Confusion matrix: knn on digits\naccuracy 0.9133"
    )
    assert confusion_title("", 1.0) == "Confusion matrix\naccuracy 1.0000"


def test_the_confusion_figure_is_titled_and_labelled_and_its_title_fits():
    title = confusion_title("gaussian_process on fashion_mnist", 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no tight_layout warning
        fig = confusion_figure(np.array([[3, 1], [1, 3]]), title)  # two classes: a small plot
    (ax,) = fig.axes
    assert ax.get_title() == title
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    renderer = fig.canvas.get_renderer()
    box = ax.title.get_window_extent(renderer)
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height
    assert box.y0 >= ax.get_window_extent(renderer).y1  # above the matrix, not over it


def test_complexity_counts_what_the_model_keeps():
    x = np.random.default_rng(0).normal(size=(40, 5))
    y = np.arange(40) % 4
    assert complexity(LogisticRegression().fit(x, y)) == {"params": 4 * 5 + 4}
    assert complexity(KNeighborsClassifier(3).fit(x, y)) == {"stored_examples": 40}


def test_calibration_bins_reproduce_the_ece():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 4)) * 2
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, 4, 500)
    bins = calibration_bins(proba, y)
    assert sum(b["count"] for b in bins) == 500
    ece = sum(b["count"] / 500 * abs(b["confidence"] - b["accuracy"]) for b in bins)
    metrics = classification_metrics(proba, proba.argmax(1), y, 4)
    assert ece == pytest.approx(metrics["ece"], abs=1e-6)  # the same quantity as torchmetrics'
