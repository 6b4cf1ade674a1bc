"""The contract every registered classifier keeps, whatever it is: scikit-learn's estimator API
(fit returns self, predict_proba is (n, classes) of probabilities, predict agrees with it), its
numbers determined by its parameters (`random_state`) alone, and the caller's global random
state left as it was. One test, parametrized over the registry: a new classifier is covered by
registering it (and, if it trains slowly, a line in TINY_CLASSIFIER)."""

import dataclasses
import random

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from genbench.classifiers.base import features
from genbench.classifiers.neural import NeuralClassifier
from genbench.config import SECTIONS, resolve
from genbench.registry import CLASSIFIERS, lookup
from genbench.runner import load_dataset
from tests.conftest import QUICK, TINY

ONE_EPOCH = ["trainer.max_epochs=1", "trainer.preset=quick"]
TINY_CLASSIFIER = {
    "mlp": ["model.hidden=16", "model.layers=1", *ONE_EPOCH],
    "cnn": ["model.channels=4", "model.hidden=16", *ONE_EPOCH],
    "bayes-vae": [*TINY["vae"], *QUICK, *ONE_EPOCH, "eval.iwae_k=2"],
    "bayes-transformer": [*TINY["transformer"], *QUICK, *ONE_EPOCH],
    "bayes-rnn": [*TINY["rnn"], *QUICK, *ONE_EPOCH],
    "bayes-hmm": [*TINY["hmm"], *QUICK, *ONE_EPOCH],
    "bayes-flow": [*TINY["flow"], *QUICK, *ONE_EPOCH],
    "bayes-ddpm": [
        *TINY["ddpm"],
        *QUICK,
        *ONE_EPOCH,
        "model.timesteps=8",
        "model.sample_steps=8",
        "model.bound_steps=3",
    ],
}
# whose numbers follow a random_state parameter (the others are deterministic given the data)
SEEDED = {name for name in CLASSIFIERS if name in TINY_CLASSIFIER}


@pytest.fixture(scope="module")
def tiny_digits():
    """Digits of three classes: the ~320 training images of 0, 1, 2 (levels; QDA needs more
    per class than the 64 features), 12 test images to predict."""
    data = load_dataset(resolve("logreg", "digits"))
    (x, y), (x_test, y_test) = features(data.train), features(data.test)
    keep, keep_test = y < 3, y_test < 3
    return data.spec, x[keep], y[keep], x_test[keep_test][:12]


def build(name, spec, seed=0):
    cfg = resolve(name, "digits", seed, TINY_CLASSIFIER.get(name, []))
    return lookup("model", name).load().build(cfg, spec)


def global_random_state():
    return (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())


SLOW = ("bayes-ddpm",)  # a DDPM per class: CI runs it with the slow tests


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(CLASSIFIERS)],
)
def test_classifier_contract(name, tiny_digits):
    spec, x, y, x_test = tiny_digits
    estimator = build(name, spec)
    assert clone(estimator).get_params().keys() == estimator.get_params().keys()
    torch.manual_seed(1234)
    before = global_random_state()
    assert estimator.fit(x, y) is estimator
    proba = estimator.predict_proba(x_test)
    predicted = estimator.predict(x_test)
    after = global_random_state()
    if name in SEEDED:  # scikit-learn's own (svm's calibration) may draw from numpy's
        assert torch.equal(before[0], after[0]) and np.array_equal(before[1], after[1])
        assert before[2] == after[2]
    assert list(estimator.classes_) == [0, 1, 2]
    assert proba.shape == (len(x_test), 3) and (proba >= 0).all()
    assert np.allclose(proba.sum(1), 1.0)
    assert np.array_equal(predicted, estimator.classes_[proba.argmax(1)])
    if name in SEEDED:
        assert estimator.get_params()["random_state"] == 0
        again = build(name, spec).fit(x, y).predict_proba(x_test)
        assert np.array_equal(again, proba)  # the same parameters give the same numbers


def tiny_mlp():
    cfg = resolve("mlp", None, 0, TINY_CLASSIFIER["mlp"])
    return NeuralClassifier("mlp", config=cfg.model, trainer=cfg.trainer)


# Checks that cannot pass, and why (every other scikit-learn estimator check runs and passes):
MLP_EXPECTED_FAILURES = {
    "check_classifiers_train": "one epoch of a 16-unit MLP cannot reach the check's 0.83 "
    "accuracy; accuracy on digits is measured by the runs",
}


@parametrize_with_checks([tiny_mlp()], expected_failed_checks=lambda e: MLP_EXPECTED_FAILURES)
def test_mlp_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


class Unread:
    """A config section a classifier declares it does not read: any access fails the test."""

    def __init__(self, section):
        self.section = section

    def __getattr__(self, key):
        raise AssertionError(
            f"read {self.section}.{key}, which its registry entry says it does not"
        )


@pytest.mark.parametrize(
    "name", [n for n in sorted(CLASSIFIERS) if set(CLASSIFIERS[n].reads) != set(SECTIONS)]
)
def test_a_classifier_reads_only_the_sections_its_entry_declares(name, tiny_digits):
    """The report labels runs by the settings they read (genbench.report.load), from `reads`."""
    spec, x, y, x_test = tiny_digits
    cfg = resolve(name, "digits", 0, TINY_CLASSIFIER.get(name, []))
    unread = {s: Unread(s) for s in SECTIONS if s not in CLASSIFIERS[name].reads}
    estimator = lookup("model", name).load().build(dataclasses.replace(cfg, **unread), spec)
    assert estimator.fit(x, y).predict(x_test).shape == (len(x_test),)
