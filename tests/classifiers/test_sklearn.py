"""genbench's scikit-learn classifiers are scikit-learn's estimators with preset parameters: they
must give exactly what scikit-learn gives, and the figures measured on the digits split."""

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import BernoulliNB, CategoricalNB, GaussianNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from genbench.classifiers.base import features
from genbench.config import resolve
from genbench.registry import lookup
from genbench.runner import load_dataset

# name, overrides, the estimator scikit-learn users would write, digits test accuracy band
CASES = [
    ("naive-bayes", ["model.variant=gaussian"], GaussianNB(), (0.83, 0.85)),
    ("naive-bayes", ["model.variant=bernoulli"], BernoulliNB(binarize=8.0), (0.88, 0.90)),
    ("naive-bayes", ["model.variant=multinomial"], MultinomialNB(), (0.89, 0.91)),
    ("naive-bayes", ["model.variant=categorical"], CategoricalNB(min_categories=17), (0.90, 0.93)),
    ("logreg", [], LogisticRegression(max_iter=5000), (0.955, 0.975)),
    ("svm", [], CalibratedClassifierCV(SVC(), ensemble=False), (0.985, 0.995)),
    ("knn", [], KNeighborsClassifier(3), (0.985, 0.99)),
    ("lda", [], LinearDiscriminantAnalysis(), (0.95, 0.975)),
    ("qda", [], QuadraticDiscriminantAnalysis(reg_param=0.9), (0.985, 0.995)),
]


@pytest.fixture(scope="module")
def digits_arrays():
    data = load_dataset(resolve("logreg", "digits"))
    (xt, yt), (xv, yv) = features(data.train), features(data.val)
    return np.concatenate([xt, xv]), np.concatenate([yt, yv]), *features(data.test), data.spec


@pytest.mark.parametrize(("name", "overrides", "reference", "band"), CASES)
def test_wrapper_is_scikit_learn_and_reproduces_the_figure(
    name, overrides, reference, band, digits_arrays
):
    x, y, x_test, y_test, spec = digits_arrays
    cfg = resolve(name, "digits", 0, overrides)
    ours = lookup("model", name).load().build(cfg, spec).fit(x, y)
    reference.fit(x, y)
    assert np.array_equal(ours.predict(x_test), reference.predict(x_test))
    assert np.allclose(ours.predict_proba(x_test), reference.predict_proba(x_test))
    accuracy = (ours.predict(x_test) == y_test).mean()
    assert band[0] <= accuracy <= band[1]
