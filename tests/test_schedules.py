import math

import pytest
import torch

from genbench.schedules import NoiseSchedule

SCHEDULES = {
    "linear": lambda: NoiseSchedule.linear(1000),
    "cosine": lambda: NoiseSchedule.cosine(1000),
    "log_snr": lambda: NoiseSchedule.log_snr_linear(250, 8.3, -5.0),
    "linear-short": lambda: NoiseSchedule.linear(10),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_closed_form_marginal_is_the_composition_of_the_one_step_gaussians(name):
    """q(x_t | x_0) against t steps of x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps, the
    Gaussians composed one at a time: mean m_t = sqrt(1 - beta_t) m_{t-1}, variance
    v_t = (1 - beta_t) v_{t-1} + beta_t, from m_0 = x_0, v_0 = 0 (no products of alphas)."""
    s = SCHEDULES[name]()
    x0 = torch.tensor([0.7], dtype=torch.float64)
    mean, var = 0.7, 0.0
    for t in range(1, s.num_steps + 1):
        beta = float(s.betas[t])
        mean, var = math.sqrt(1 - beta) * mean, (1 - beta) * var + beta
        steps = torch.tensor([t])
        at_zero = s.add_noise(x0, torch.zeros(1, dtype=torch.float64), steps)
        at_one = s.add_noise(x0, torch.ones(1, dtype=torch.float64), steps)
        assert float(at_zero) == pytest.approx(mean, rel=1e-9, abs=1e-12)
        assert float(at_one - at_zero) == pytest.approx(math.sqrt(var), rel=1e-9)


def test_closed_form_marginal_matches_simulated_forward_steps():
    """Monte Carlo: 200,000 chains run step by step. The tolerances are 5 standard errors of
    the sample mean (sqrt(v / N)) and variance (v sqrt(2 / N)); a wrong marginal (alpha_t for
    alpha_bar_t, a missing square root) is off by far more."""
    s = NoiseSchedule.linear(50)
    n, x0 = 200_000, 0.7
    generator = torch.Generator().manual_seed(0)
    x = torch.full((n,), x0, dtype=torch.float64)
    for t in range(1, s.num_steps + 1):
        beta = s.betas[t]
        noise = torch.randn(n, generator=generator, dtype=torch.float64)
        x = (1 - beta).sqrt() * x + beta.sqrt() * noise
        if t in (5, 25, 50):
            mean = s.alpha_bar[t].sqrt() * x0
            var = 1 - s.alpha_bar[t]
            assert abs(x.mean() - mean) < 5 * math.sqrt(var / n)
            assert abs(x.var() - var) < 5 * var * math.sqrt(2 / n)


@pytest.mark.parametrize("name", ["linear", "cosine", "log_snr"])
def test_alpha_bar_falls_from_near_one_to_near_zero(name):
    s = SCHEDULES[name]()
    T = s.num_steps
    assert float(s.alpha_bar[0]) == 1.0  # x_0 is the data
    assert float(s.alpha_bar[1]) == pytest.approx(1 - float(s.betas[1]), rel=1e-12)
    assert float(s.alpha_bar[1]) > 0.999
    assert float(s.alpha_bar[T]) < 0.01
    assert (s.alpha_bar[1:] < s.alpha_bar[:-1]).all()  # strictly decreasing
    assert ((s.betas[1:] > 0) & (s.betas[1:] < 1)).all()


def test_linear_schedule_has_ho_et_al_endpoints_and_log_snr_is_linear():
    s = NoiseSchedule.linear(1000)
    assert float(s.betas[1]) == pytest.approx(1e-4) and float(s.betas[1000]) == pytest.approx(0.02)
    s = NoiseSchedule.log_snr_linear(100, 8.0, -5.0)
    log_snr = torch.log(s.alpha_bar[1:] / (1 - s.alpha_bar[1:]))
    expected = torch.linspace(8.0, -5.0, 100, dtype=torch.float64)
    assert torch.allclose(log_snr, expected, atol=1e-9)


@pytest.mark.parametrize("name", ["linear", "cosine", "log_snr"])
def test_posterior_is_bayes_rule_on_the_two_gaussians(name):
    """q(x_{t-1} | x_t, x_0) from prior q(x_{t-1} | x_0) = N(sqrt(ab_{t-1}) x_0, 1 - ab_{t-1})
    and likelihood q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t), in precision form:
    precisions add, and the mean is the precision-weighted sum of the two estimates."""
    s = SCHEDULES[name]()
    T = s.num_steps
    generator = torch.Generator().manual_seed(0)
    x0 = torch.rand(T - 1, generator=generator, dtype=torch.float64) * 2 - 1
    x_t = torch.randn(T - 1, generator=generator, dtype=torch.float64)
    t = torch.arange(2, T + 1)
    prior_var = 1 - s.alpha_bar[t - 1]
    beta = s.betas[t]
    precision = 1 / prior_var + (1 - beta) / beta
    expected_var = 1 / precision
    expected_mean = expected_var * (
        s.alpha_bar[t - 1].sqrt() * x0 / prior_var + (1 - beta).sqrt() * x_t / beta
    )
    mean, var = s.posterior(x0, x_t, t)
    assert torch.allclose(mean, expected_mean, rtol=1e-8, atol=1e-10)
    assert torch.allclose(var.flatten(), expected_var, rtol=1e-8)
    # at t = 1 the prior is a point: the posterior is x_0 itself
    mean, var = s.posterior(x0[:3], x_t[:3], torch.ones(3, dtype=torch.long))
    assert torch.allclose(mean, x0[:3]) and (var == 0).all()


def test_reverse_mean_with_the_true_noise_is_the_posterior_mean():
    """Eq. 11 with eps = the noise that made x_t equals mu~_t(x_t, x_0) (eq. 7)."""
    s = NoiseSchedule.linear(100)
    generator = torch.Generator().manual_seed(1)
    x0 = torch.rand(100, 5, generator=generator, dtype=torch.float64) * 2 - 1
    noise = torch.randn(100, 5, generator=generator, dtype=torch.float64)
    t = torch.arange(1, 101)
    x_t = s.add_noise(x0, noise, t)
    assert torch.allclose(s.reverse_mean(x_t, noise, t), s.posterior(x0, x_t, t)[0], atol=1e-9)
    assert torch.allclose(s.predict_x0(x_t, noise, t), x0, atol=1e-9)


def test_ddim_with_every_step_and_eta_one_is_the_ancestral_step():
    """Song et al. (2021): eta = 1 and t_prev = t - 1 give sigma^2 = beta~_t, so with the same
    noise z the DDIM step equals the ancestral step with variance beta~_t, step by step."""
    s = NoiseSchedule.cosine(50)
    generator = torch.Generator().manual_seed(2)
    for t in range(1, 51):
        x_t = torch.randn(4, 3, generator=generator, dtype=torch.float64)
        eps = torch.randn(4, 3, generator=generator, dtype=torch.float64)
        ddim = s.ddim_step(x_t, eps, t, t - 1, 1.0, torch.Generator().manual_seed(t))
        ddpm = s.step(x_t, eps, t, s.posterior_variance, torch.Generator().manual_seed(t))
        assert torch.allclose(ddim, ddpm, atol=1e-9), t


def test_ddim_without_noise_follows_the_forward_trajectory_of_the_true_noise():
    """With eta = 0 and the exact noise of x_t = sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps, a DDIM
    step lands on sqrt(ab_s) x_0 + sqrt(1 - ab_s) eps for any s < t: the same x_0, same eps."""
    s = NoiseSchedule.linear(100)
    generator = torch.Generator().manual_seed(3)
    x0 = torch.rand(6, generator=generator, dtype=torch.float64) * 2 - 1
    eps = torch.randn(6, generator=generator, dtype=torch.float64)
    for t, t_prev in [(100, 60), (60, 7), (7, 1), (1, 0)]:
        x_t = s.add_noise(x0, eps, torch.full((6,), t))
        expected = s.add_noise(x0, eps, torch.full((6,), t_prev))
        assert torch.allclose(s.ddim_step(x_t, eps, t, t_prev), expected, atol=1e-9)


def test_ddim_noise_scale_is_eta_times_the_ancestral_one():
    """Eq. 16: for consecutive steps sigma(eta) = eta sqrt(beta~_t). Two draws that differ only
    in z differ by sigma (z1 - z2), with z read back from identically seeded generators."""
    s = NoiseSchedule.linear(100)
    x_t = torch.randn(3, 4, dtype=torch.float64)
    eps = torch.randn(3, 4, dtype=torch.float64)
    for t in (2, 50, 100):
        for eta in (0.5, 1.0):
            one = s.ddim_step(x_t, eps, t, t - 1, eta, torch.Generator().manual_seed(1))
            two = s.ddim_step(x_t, eps, t, t - 1, eta, torch.Generator().manual_seed(2))
            z1, z2 = (
                torch.randn(3, 4, generator=torch.Generator().manual_seed(k), dtype=torch.float64)
                for k in (1, 2)
            )
            sigma = eta * s.posterior_variance[t].sqrt()
            assert torch.allclose(one - two, sigma * (z1 - z2), atol=1e-12)
