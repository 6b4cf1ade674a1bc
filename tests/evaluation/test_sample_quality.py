"""Sample-quality metrics against cases whose answers are known independently."""

import numpy as np
import pytest
import scipy.linalg
import torch

from genbench.evaluation.sample_quality import (
    classifier_score,
    density_coverage,
    frechet_distance,
    kernel_distance,
    memorization,
    precision_recall,
)


def gaussian(n, mean, scale, seed, d=6):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64) * scale + mean


def test_frechet_distance_equals_the_closed_form_of_the_fitted_gaussians():
    a, b = gaussian(3000, 0.0, 1.0, 0), gaussian(3000, 0.5, 1.7, 1)
    mu_a, mu_b = a.mean(0).numpy(), b.mean(0).numpy()
    cov_a, cov_b = np.cov(a.numpy().T), np.cov(b.numpy().T)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    closed = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    assert frechet_distance(b, a) == pytest.approx(closed, rel=1e-6)


def test_frechet_distance_is_zero_for_one_distribution_and_grows_with_a_mean_shift():
    a, b = gaussian(20000, 0.0, 1.0, 0), gaussian(20000, 0.0, 1.0, 1)
    base = frechet_distance(b, a)
    assert base < 0.01  # sampling noise only, d=6
    gap = (b.mean(0) - a.mean(0)).sum().item()
    for shift in (0.5, 1.0, 2.0):  # a shift moves only the means: + ||s||^2 + 2 s . (mu_b - mu_a)
        predicted = base + 6 * shift**2 + 2 * shift * gap
        assert frechet_distance(b + shift, a) == pytest.approx(predicted, rel=1e-6)


def test_kernel_distance_is_unbiased_near_zero_and_positive_apart():
    a, b = gaussian(2000, 0.0, 1.0, 0), gaussian(2000, 0.0, 1.0, 1)
    mean, std = kernel_distance(a, b, subsets=20)
    assert abs(mean) < 3 * std + 1e-3
    assert kernel_distance(b + 1.0, a, subsets=20)[0] > 10 * std


def test_precision_recall_identical_and_disjoint_sets():
    a = gaussian(400, 0.0, 1.0, 0)
    assert precision_recall(a, a) == {"precision": 1.0, "recall": 1.0}
    assert precision_recall(a + 100.0, a) == {"precision": 0.0, "recall": 0.0}
    half = precision_recall(torch.cat([a[:200], a[:200] + 100.0]), a)
    assert half["precision"] == pytest.approx(0.5)  # half the samples lie on the data


def test_density_and_coverage_known_cases():
    a = gaussian(400, 0.0, 1.0, 0)
    assert density_coverage(a + 100.0, a) == {"density": 0.0, "coverage": 0.0}
    same = density_coverage(gaussian(4000, 0.0, 1.0, 1), gaussian(4000, 0.0, 1.0, 2))
    assert same["density"] == pytest.approx(1.0, abs=0.1)  # expectation 1 for one distribution
    assert same["coverage"] > 0.95


def test_classifier_score_bounds():
    assert classifier_score(torch.eye(10)) == pytest.approx(10.0)  # confident and balanced
    assert classifier_score(torch.full((50, 10), 0.1)) == pytest.approx(1.0)  # uninformative
    one_class = torch.zeros(50, 10)
    one_class[:, 3] = 1.0
    assert classifier_score(one_class) == pytest.approx(1.0)  # confident but all one class


def test_memorization_flags_copies_of_training_data():
    train, test = torch.rand(300, 16), torch.rand(100, 16)
    copies = memorization(train[:50], train, test)
    assert copies["memorized_fraction"] == 1.0 and copies["nn_train_distance_samples"] == 0.0
    fresh = memorization(torch.rand(200, 16), train, test)
    assert fresh["memorized_fraction"] < 0.05
