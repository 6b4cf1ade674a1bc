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
from genbench.evaluation.scorecard import knn_metrics


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
    torch.manual_seed(0)  # not whatever state earlier tests or imports left
    train, test = torch.rand(300, 16), torch.rand(100, 16)
    copies = memorization(train[:50], train, test)
    assert copies["memorized_fraction"] == 1.0 and copies["nn_train_distance_samples"] == 0.0
    fresh = memorization(torch.rand(200, 16), train, test)
    assert fresh["memorized_fraction"] < 0.05


def published_prdc(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int) -> dict:
    """Precision, recall (Kynkäänniemi et al. 2019), density, coverage (Naeem et al. 2020)
    written out from the papers' formulas with numpy: open balls B(x, NND_k(x)), i.e. < ."""

    def pairwise(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    def radii(x, k):  # distance to the k-th nearest other point: sorted row, index k (0 is self)
        return np.sort(pairwise(x, x), axis=1)[:, k]

    d = pairwise(fake, real)  # (M fake, N real)
    real_pr, fake_pr, real_dc = radii(real, k_pr), radii(fake, k_pr), radii(real, k_dc)
    return {
        "precision": np.mean([(d[j] < real_pr).any() for j in range(len(fake))]),
        "recall": np.mean([(d[:, i] < fake_pr).any() for i in range(len(real))]),
        "density": sum((d[j] < real_dc).sum() for j in range(len(fake))) / (k_dc * len(fake)),
        "coverage": np.mean([(d[:, i] < real_dc[i]).any() for i in range(len(real))]),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prdc_match_the_published_formulas_on_random_data(seed):
    real, fake = gaussian(300, 0.0, 1.0, seed, d=4), gaussian(200, 0.3, 1.2, seed + 10, d=4)
    ours = precision_recall(fake, real, k=3) | density_coverage(fake, real, k=5)
    expected = published_prdc(real.numpy(), fake.numpy(), 3, 5)
    assert ours == pytest.approx(expected, abs=1e-6)  # float32 means; a count off is 1/300
    assert 0.0 < ours["precision"] < 1.0 and 0.0 < ours["coverage"] < 1.0  # not a trivial case


def test_a_neighbour_exactly_at_the_radius_is_outside():
    """Real points 0, 1, ..., 9 on a line (k=1: every radius is 1); samples at -1 and 10 lie
    exactly on a ball's edge, so outside; 4.5 lies inside the balls of 4 and 5."""
    real = torch.arange(10, dtype=torch.float64).unsqueeze(1)
    fake = torch.tensor([[-1.0], [10.0], [4.5]], dtype=torch.float64)
    assert precision_recall(fake, real, k=1)["precision"] == pytest.approx(1 / 3)
    assert density_coverage(fake, real, k=1) == pytest.approx({"density": 2 / 3, "coverage": 0.2})


def test_duplicates_that_make_a_radius_zero_are_not_applicable():
    """Bars in pixel space: every pattern many times over, so every k-NN ball is a point."""
    patterns = torch.tensor([[0, 0, 1, 1], [1, 1, 0, 0], [0, 1, 0, 1], [1, 0, 1, 0]]).double()
    real = patterns.repeat(50, 1)
    assert precision_recall(real[:40], real) == {"precision": None, "recall": None}
    assert density_coverage(real[:40], real) == {"density": None, "coverage": None}
    spread = torch.rand(100, 4, dtype=torch.float64)  # distinct samples: recall still applies
    assert precision_recall(spread, real)["recall"] is not None
    metrics = knn_metrics(spread, real)
    assert "precision" not in metrics and "density" not in metrics and "recall" in metrics
    assert "real examples make a k-NN radius 0" in metrics["knn_not_applicable"]


def test_kernel_distance_spread_only_where_the_subsets_differ():
    a, b = gaussian(300, 0.0, 1.0, 0), gaussian(300, 0.5, 1.0, 1)
    assert kernel_distance(a, b, subsets=10)[1] is None  # every subset is both whole sets
    assert kernel_distance(a, gaussian(500, 0.5, 1.0, 1), subsets=10)[1] > 0
