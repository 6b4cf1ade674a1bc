import json

import numpy as np
import pytest

import genbench.evaluation.classification as classification
from genbench.cli import main
from genbench.config import resolve
from genbench.runner import load_dataset, run


def test_classifier_run_stores_the_classification_scorecard(tmp_path, monkeypatch):
    titles = []
    drawn = classification.confusion_figure
    monkeypatch.setattr(
        classification, "confusion_figure", lambda m, title: titles.append(title) or drawn(m, title)
    )
    outcome = run(resolve("qda", "digits"), tmp_path)
    m = outcome.result["metrics"]
    assert outcome.result["kind"] == "classifier" and outcome.result["status"] == "done"
    assert m["accuracy"] == pytest.approx(0.9889, abs=1e-4)
    assert {"nll", "ece", "f1_macro", "params", "fit_seconds", "predict_seconds"} <= set(m)
    assert m["n_train"] == 1077 + 270  # no early stopping: fits on train and val together
    confusion = np.loadtxt(outcome.directory / "confusion.csv", delimiter=",", skiprows=1)[:, 1:]
    assert confusion.sum() == 450 and np.trace(confusion) == round(m["accuracy"] * 450)
    assert titles == [f"Confusion matrix: qda on digits\naccuracy {m['accuracy']:.4f}"]
    assert (outcome.directory / "confusion.png").is_file()


def test_classifier_on_unlabelled_data_is_a_user_error(capsys, tmp_path):
    assert main(["run", "--model", "logreg", "--dataset", "bars", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "logreg does not apply to bars: a classifier needs labels" in err
    assert len(err.strip().splitlines()) == 1


def test_train_fraction_is_stratified_and_seeded():
    cfg = resolve("logreg", "digits", 3, ["data.train_fraction=0.2"])
    a, b = load_dataset(cfg), load_dataset(cfg)
    assert len(a.train) == round(0.2 * 1077) and len(a.val) == round(0.2 * 270)
    assert len(a.test) == 450  # never reduced
    assert np.array_equal(a.train.y.numpy(), b.train.y.numpy())
    share = np.bincount(a.train.y.numpy(), minlength=10) / len(a.train)
    full = np.bincount(load_dataset(resolve("logreg", "digits")).train.y.numpy()) / 1077
    assert np.abs(share - full).max() < 0.02
    other = load_dataset(resolve("logreg", "digits", 4, ["data.train_fraction=0.2"]))
    assert not np.array_equal(a.train.x.numpy(), other.train.x.numpy())


def test_cli_prints_accuracy(capsys, tmp_path):
    assert main(["run", "--model", "knn", "--dataset", "digits", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy    0.9867" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "result.json").read_text())["metrics"]["stored_examples"] == 1347
