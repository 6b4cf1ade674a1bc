import numpy as np
import pytest
import torch
from sklearn.naive_bayes import CategoricalNB

from genbench.classifiers.naive_bayes import (
    CategoricalNaiveBayes,
    fit,
    joint_log_likelihood,
    predict_proba,
)


def random_levels(seed: int, n: int = 200, d: int = 6, levels: int = 5, classes: int = 3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = (rng.integers(0, levels, (n, d)) + y[:, None]) % levels  # class-dependent features
    return X, y


@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_equals_scikit_learn_categorical_nb(alpha):
    """The reference of the naive-bayes assignment computes what CategoricalNB computes."""
    X, y = random_levels(0)
    ours = CategoricalNaiveBayes(n_levels=5, alpha=alpha).fit(X, y)
    theirs = CategoricalNB(alpha=alpha, min_categories=5).fit(X, y)
    X_test, _ = random_levels(1, n=50)
    assert np.allclose(ours.predict_proba(X_test), theirs.predict_proba(X_test), atol=1e-12)
    assert (ours.predict(X_test) == theirs.predict(X_test)).all()
    assert np.allclose(ours.class_log_prior_.numpy(), theirs.class_log_prior_)
    for d, table in enumerate(theirs.feature_log_prob_):  # (C, L) per feature
        assert np.allclose(ours.feature_log_prob_[:, d].numpy(), table)


def test_each_class_conditional_sums_to_one_over_levels_and_proba_is_stable():
    X, y = random_levels(2)
    prior, log_prob = fit(torch.as_tensor(X), torch.as_tensor(y), 5, 3, 1.0)
    assert torch.allclose(log_prob.exp().sum(-1), torch.ones(3, 6, dtype=torch.float64))
    assert prior.exp().sum().item() == pytest.approx(1.0)
    jll = joint_log_likelihood(torch.as_tensor(X[:4]), prior, log_prob)
    assert jll.shape == (4, 3)
    extreme = torch.tensor([[-1e4, -1e4 + 1.0, -2e4]], dtype=torch.float64)
    p = predict_proba(extreme)
    assert torch.isfinite(p).all() and p.sum().item() == pytest.approx(1.0)
    assert p[0, 1].item() == pytest.approx(1 / (1 + np.exp(-1.0)))
