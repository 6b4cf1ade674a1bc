import numpy as np
import pytest
import torch
from scipy.stats import logistic

from genbench.distributions import Bernoulli, Categorical, DiscretizedLogistic, output_distribution
from genbench.errors import GenbenchError


def all_levels_log_prob(dist, params, levels):
    """log p(x_d = l) for every level l: params (1, D, P) -> (L, D)."""
    d = params.shape[1]
    rows = []
    for level in range(levels):
        x = torch.full((1, d), level)
        per_dim = [dist.log_prob(params[:, j : j + 1], x[:, j : j + 1]) for j in range(d)]
        rows.append(torch.cat(per_dim))
    return torch.stack(rows)


@pytest.mark.parametrize(
    ("dist", "levels", "p"),
    [
        (Categorical(17), 17, 17),
        (Bernoulli(), 2, 1),
        (DiscretizedLogistic(17), 17, 2),
        (DiscretizedLogistic(256), 256, 2),
    ],
)
def test_probabilities_over_all_levels_sum_to_one(dist, levels, p):
    torch.manual_seed(0)
    params = torch.randn(1, 5, p, dtype=torch.float64)
    if isinstance(dist, DiscretizedLogistic):
        params[..., 1] = torch.tensor([-6.0, -3.0, -1.0, 0.0, 1.0], dtype=torch.float64)
    logp = all_levels_log_prob(dist, params, levels)
    assert torch.allclose(logp.exp().sum(0), torch.ones(5, dtype=torch.float64), atol=1e-6)


def test_discretized_logistic_matches_scipy_bin_masses():
    levels = 256
    dist = DiscretizedLogistic(levels)
    mean, log_scale = 0.1, -2.5
    params = torch.tensor([[[mean, log_scale]]], dtype=torch.float64)
    logp = all_levels_log_prob(dist, params, levels)[:, 0].exp().numpy()
    edges = np.linspace(-1, 1, levels)  # level centres
    half = 1 / (levels - 1)
    cdf = logistic(loc=mean, scale=np.exp(log_scale)).cdf
    expected = cdf(edges + half) - cdf(edges - half)
    expected[0] = cdf(edges[0] + half)
    expected[-1] = 1 - cdf(edges[-1] - half)
    assert np.allclose(logp, expected, atol=1e-9)


@pytest.mark.parametrize("dist", [Categorical(5), DiscretizedLogistic(5), Bernoulli()])
def test_sample_frequencies_follow_the_probabilities(dist):
    levels = dist.num_levels
    params = torch.randn(1, 1, dist.params_per_dim, generator=torch.Generator().manual_seed(1))
    probs = all_levels_log_prob(dist, params, levels)[:, 0].exp()
    n = 20000
    draws = dist.sample(params.expand(n, 1, -1), torch.Generator().manual_seed(2)).flatten()
    freq = torch.bincount(draws, minlength=levels).float() / n
    assert torch.allclose(freq, probs, atol=4 * (0.25 / n) ** 0.5)  # 4 standard errors at worst
    assert int(dist.mode(params)) == int(probs.argmax())


def test_auto_decoder_choice_and_errors():
    assert isinstance(output_distribution("auto", 2), Bernoulli)
    assert isinstance(output_distribution("auto", 17), Categorical)
    assert isinstance(output_distribution("auto", 256), DiscretizedLogistic)
    with pytest.raises(GenbenchError, match="bernoulli decoder needs 2 levels"):
        output_distribution("bernoulli", 17)
    with pytest.raises(GenbenchError, match="needs discrete data"):
        output_distribution("auto", None)
