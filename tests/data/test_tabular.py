import math

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine

from genbench.cli import main
from genbench.data.tabular import BreastCancer, Iris, Wine


@pytest.mark.parametrize(
    ("family", "loader", "classes"),
    [(Iris, load_iris, 3), (Wine, load_wine, 3), (BreastCancer, load_breast_cancer, 2)],
)
def test_splits_cover_the_dataset_once(family, loader, classes):
    data = family.load(family.Config(train_fraction=1.0), None)
    x, _ = loader(return_X_y=True)
    assert data.spec.num_levels is None and data.spec.num_classes == classes
    assert data.spec.shape == (x.shape[1],)
    parts = [s.x.numpy() for s in (data.train, data.val, data.test)]
    assert sum(len(p) for p in parts) == len(x)
    assert len(data.test) == math.ceil(0.25 * len(x))  # scikit-learn rounds the test share up
    merged = np.concatenate(parts)
    assert np.allclose(np.sort(merged, axis=0), np.sort(x.astype(np.float32), axis=0))


def test_generative_model_on_continuous_data_is_a_user_error(capsys, tmp_path):
    assert main(["run", "--model", "vae", "--dataset", "iris", "--out", str(tmp_path)]) == 2
    assert (
        "vae does not apply to iris: a generative model needs discrete levels"
        in capsys.readouterr().err
    )


def test_classifier_on_continuous_data(capsys, tmp_path):
    assert main(["run", "--model", "logreg", "--dataset", "wine", "--out", str(tmp_path)]) == 0
    assert "test accuracy" in capsys.readouterr().out
