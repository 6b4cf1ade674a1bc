import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn
from torch.distributions import Normal, kl_divergence

from genbench.data.base import DataSpec
from genbench.errors import GenbenchError
from genbench.evaluation.likelihood import likelihood_metrics
from genbench.models import ddpm as ddpm_module
from genbench.models.ddpm import (
    DDPM,
    VAL_SEED,
    VAL_STEPS,
    discretized_gaussian_log_prob,
    stratified_steps,
)

SPEC = DataSpec((1, 2, 2), num_levels=5, num_classes=None)


def make_ddpm(spec=SPEC, **overrides):
    values = dict(
        timesteps=20,
        schedule="log_snr",
        variance="posterior",
        channels=8,
        dropout=0.0,
        lr=1e-3,
        weight_decay=0.0,
        sample_steps=None,
        bound_steps=None,
        ema_decay=0.99,
    )
    torch.manual_seed(0)
    return DDPM(spec, DDPM.Config(**{**values, **overrides})).double().eval()


class PointMassDenoiser(nn.Module):
    """The exact noise prediction when the data is one image `point` on the [-1, 1] scale:
    eps(x_t, t) = (x_t - sqrt(alpha_bar_t) point) / sqrt(1 - alpha_bar_t)."""

    def __init__(self, alpha_bar, point):
        super().__init__()
        self.alpha_bar, self.point = alpha_bar, point

    def forward(self, x_t, t):
        alpha_bar = self.alpha_bar[t].view(-1, 1, 1, 1)
        return (x_t - alpha_bar.sqrt() * self.point) / (1 - alpha_bar).sqrt()


def estimate(model, x, seed, steps=VAL_STEPS):
    """The bound estimated from `steps` stratified steps, its draws from generator `seed`."""
    return model.bound_estimate(x, steps, torch.Generator().manual_seed(seed))


def signed(levels, num_levels):
    return 2.0 * levels.double() / (num_levels - 1) - 1.0


def independent_bound(betas, x, point, variance, num_levels):
    """-(L_T + sum_t L_{t-1} + L_0) in nats for data x (levels) under the point-mass denoiser
    of `point` (levels), written term by term from the betas alone.

    The denoiser's x_0 estimate is `point` for every x_t, so mu_theta - mu~_t =
    c_t (point - x_0) with c_t = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t): every KL
    term is the same for every draw of x_t, and the decoder's mean at t = 1 is `point`."""
    T = len(betas)
    alpha_bar = [1.0]
    for beta in betas:
        alpha_bar.append(alpha_bar[-1] * (1 - beta))
    a, b = signed(x, num_levels).flatten(), signed(point, num_levels).flatten()
    prior = kl_divergence(
        Normal(math.sqrt(alpha_bar[T]) * a, math.sqrt(1 - alpha_bar[T])), Normal(0.0, 1.0)
    )
    total = prior.sum().item()
    for t in range(2, T + 1):
        beta = betas[t - 1]
        posterior_var = beta * (1 - alpha_bar[t - 1]) / (1 - alpha_bar[t])
        sigma2 = posterior_var if variance == "posterior" else beta
        c = math.sqrt(alpha_bar[t - 1]) * beta / (1 - alpha_bar[t])
        kl = kl_divergence(
            Normal(c * a, math.sqrt(posterior_var)), Normal(c * b, math.sqrt(sigma2))
        )
        total += kl.sum().item()
    half = 1.0 / (num_levels - 1)
    lower = np.where(x.flatten().numpy() == 0, -np.inf, a.numpy() - half)
    upper = np.where(x.flatten().numpy() == num_levels - 1, np.inf, a.numpy() + half)
    std = math.sqrt(betas[0])
    mass = norm.cdf(upper, loc=b.numpy(), scale=std) - norm.cdf(lower, loc=b.numpy(), scale=std)
    return -(total - np.log(mass).sum())


@pytest.mark.parametrize(
    ("schedule", "variance"),
    [("log_snr", "posterior"), ("linear", "beta"), ("cosine", "posterior")],
)
def test_bound_with_the_exact_denoiser_of_a_point_matches_the_kl_terms_one_by_one(
    schedule, variance, monkeypatch
):
    monkeypatch.setattr(ddpm_module, "VALUES_PER_PASS", 36)  # 3 steps x 3 images a pass
    model = make_ddpm(schedule=schedule, variance=variance)
    point = torch.tensor([[[[0, 1], [4, 2]]]])
    model.ema = PointMassDenoiser(model.schedule.alpha_bar, signed(point, 5))  # evaluated
    x = torch.cat([point, torch.tensor([[[[1, 1], [3, 2]]]]), torch.tensor([[[[0, 2], [4, 3]]]])])
    betas = model.schedule.betas[1:].tolist()
    with torch.no_grad():
        got = model.log_prob(x)
    expected = [independent_bound(betas, xi, point, variance, 5) for xi in x]
    assert got.shape == (3,)
    assert got.tolist() == pytest.approx(expected, rel=1e-7, abs=1e-7)
    if variance == "posterior":  # the data is the point: only L_T and L_0 remain, both ~0
        assert -0.05 < got[0].item() <= 0


def test_discretized_gaussian_sums_to_one_and_matches_normal_cdf_differences():
    levels = 17
    means = torch.tensor([-1.3, -1.0, -0.4, 0.03, 0.5, 1.0, 1.7], dtype=torch.float64)
    stds = torch.tensor([0.01, 0.05, 0.3, 1.0, 2.0], dtype=torch.float64)
    mean, std = (g.reshape(-1, 1) for g in torch.meshgrid(means, stds, indexing="ij"))
    all_levels = torch.arange(levels).view(1, -1)
    logp = discretized_gaussian_log_prob(all_levels, mean, std, levels)  # (35, 17)
    assert torch.allclose(logp.exp().sum(1), torch.ones(35, dtype=torch.float64), atol=1e-12)
    center = np.linspace(-1, 1, levels)
    edges = np.concatenate([[-np.inf], (center[:-1] + center[1:]) / 2, [np.inf]])
    m, s = mean.numpy(), std.numpy()
    expected = norm.cdf(edges[1:], loc=m, scale=s) - norm.cdf(edges[:-1], loc=m, scale=s)
    assert np.allclose(logp.exp().numpy(), expected, atol=1e-12)
    # far in the tails, where the difference of CDFs underflows, the log stays exact: compare
    # with scipy's log survival function on a bin far above the mean
    mean, std = torch.tensor([-1.0], dtype=torch.float64), torch.tensor(0.05, dtype=torch.float64)
    far = discretized_gaussian_log_prob(torch.tensor([16]), mean, std, levels)
    assert far.item() == pytest.approx(norm.logsf(edges[16], loc=-1.0, scale=0.05), rel=1e-9)
    middle = discretized_gaussian_log_prob(torch.tensor([15]), mean, std, levels)
    exact = norm.logsf(edges[15], loc=-1.0, scale=0.05) + np.log1p(
        -np.exp(norm.logsf(edges[16], loc=-1.0, scale=0.05) - norm.logsf(edges[15], -1.0, 0.05))
    )
    assert middle.item() == pytest.approx(exact, rel=1e-9)


def test_under_the_log_snr_schedule_each_kl_term_weighs_the_noise_error_equally():
    """With sigma_t^2 = beta~_t, L_{t-1} = (SNR_{t-1} / SNR_t - 1) / 2 ||eps - eps_theta||^2,
    and the log-SNR schedule makes the ratio the same for every t: the simple loss with t
    uniform is the bound's weighting. Checked against the noise the model drew for x_t."""

    class Recorder(nn.Module):
        def __init__(self, prediction):
            super().__init__()
            self.prediction = prediction

        def forward(self, x_t, t):
            self.x_t = x_t
            return self.prediction.expand_as(x_t)

    model = make_ddpm()
    s = model.schedule
    log_snr = torch.log(s.alpha_bar / (1 - s.alpha_bar))
    weight = 0.5 * (torch.exp(log_snr[1] - log_snr[2]) - 1)
    model.ema = Recorder(torch.randn(1, 1, 2, 2, dtype=torch.float64))
    x = torch.tensor([[[[0, 1], [4, 2]]]]).repeat(19, 1, 1, 1)
    t = torch.arange(2, 21)
    noise = torch.randn(x.shape, dtype=torch.float64)
    with torch.no_grad():
        terms = model.step_terms(x, t, noise)
    ab = s.alpha_bar[t].view(-1, 1, 1, 1)
    assert torch.allclose(model.ema.x_t, ab.sqrt() * signed(x, 5) + (1 - ab).sqrt() * noise)
    expected = weight * (noise - model.ema.prediction).pow(2).flatten(1).sum(1)
    assert torch.allclose(terms, expected, rtol=1e-6)


def test_validation_estimate_is_exact_when_every_kl_term_is_the_same():
    """Under the log-SNR schedule with beta~_t, a denoiser off by a constant delta from the
    exact noise of the data's one point makes every L_{t-1} = (e^dlogsnr - 1) / 2 ||delta||^2:
    whatever steps the estimate draws, it must equal the full bound."""

    class Offset(PointMassDenoiser):
        def forward(self, x_t, t):
            return super().forward(x_t, t) + torch.tensor([0.3, -0.2, 0.1, 0.5]).view(1, 1, 2, 2)

    model = make_ddpm()
    point = torch.tensor([[[[0, 1], [4, 2]]]])
    model.ema = Offset(model.schedule.alpha_bar, signed(point, 5))
    with torch.no_grad():
        exact = model.log_prob(point)
        for seed in range(5):
            assert torch.allclose(estimate(model, point, seed), exact, rtol=1e-10)


def test_validation_estimate_is_unbiased_and_fixed_across_calls():
    """The stratified estimate behind val_loss averages to the full bound over seeds (within
    5 standard errors of that average) and repeats exactly for one seed."""
    model = make_ddpm(schedule="linear")
    point = torch.tensor([[[[0, 1], [4, 2]]]])
    model.ema = PointMassDenoiser(model.schedule.alpha_bar, signed(point, 5))  # evaluated
    x = torch.tensor([[[[1, 1], [3, 2]]]])
    betas = model.schedule.betas[1:].tolist()
    with torch.no_grad():
        exact = independent_bound(betas, x[0], point, "posterior", 5)  # every draw of x_t
        assert model.log_prob(x).item() == pytest.approx(exact, rel=1e-9)
        estimates = torch.cat([estimate(model, x, seed) for seed in range(400)])
        assert torch.equal(estimate(model, x, 7), estimate(model, x, 7))
    error = estimates.std().item() / math.sqrt(len(estimates))
    assert abs(estimates.mean().item() - exact) < 5 * error
    assert estimates.std().item() > 0  # the estimate does vary with the seed


def test_stratified_steps_weigh_every_step_equally():
    """Over offsets on a fine grid the K strata together visit each step of 2..T equally
    often, which makes (T - 1) mean_j f(t_j) unbiased; K = T - 1 is each step once."""
    T, k, grid = 20, 4, 95  # k * grid = 380 = 20 * (T - 1): every step exactly 20 times
    offset = ((torch.arange(grid) + 0.5) / grid).repeat(k, 1)  # (k, grid)
    t = stratified_steps(T, offset)
    assert t.shape == (k, grid) and (t[1:] >= t[:-1]).all()  # stratum j below stratum j + 1
    assert torch.equal(torch.bincount(t.flatten(), minlength=T + 1)[2:], torch.full((T - 1,), 20))
    every = stratified_steps(T, torch.tensor([0.0, 0.5, 0.999999]).repeat(T - 1, 1))
    assert torch.equal(every, torch.arange(2, T + 1).view(-1, 1).expand(T - 1, 3))


def untrained(model, seed=1):
    """The model with random EMA weights, so that its bound's terms vary with t and the noise
    (an initialized U-Net predicts eps = 0)."""
    generator = torch.Generator().manual_seed(seed)
    for weight in model.ema.buffers():
        weight.add_(0.2 * torch.randn(weight.shape, generator=generator, dtype=weight.dtype))
    return model


def test_the_bound_does_not_depend_on_how_it_is_split_into_passes(monkeypatch):
    model = untrained(make_ddpm())
    x = torch.randint(0, 5, (3, 1, 2, 2), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = estimate(model, x, 0, steps=19)  # all 20 rows of x_t in one pass
        monkeypatch.setattr(ddpm_module, "VALUES_PER_PASS", 24)  # 2 rows of 3 images a pass
        assert torch.allclose(estimate(model, x, 0, steps=19), whole, rtol=1e-10)


def test_the_bound_reports_each_network_pass_as_progress(monkeypatch):
    """Evaluation is never silent through the T passes of the bound: the likelihood phase hears
    of every pass of every batch of examples, in order, ending at its total."""
    model = untrained(make_ddpm()).eval()
    x = torch.randint(0, 5, (6, 1, 2, 2), generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(ddpm_module, "VALUES_PER_PASS", 24)  # 2 rows of 3 images a pass
    told = []
    likelihood_metrics(model, x, 1, 3, None, lambda done, total: told.append((done, total)))
    steps = model.schedule.num_steps  # T rows of x_t an image: T / 2 passes of each 3 images
    assert told == [(i, 2 * steps // 2) for i in range(1, steps + 1)]


def test_the_k_step_estimate_averages_to_the_full_bound():
    """model.bound_steps = K: reported as vlb-K, its mean over draws matches the mean of the
    full bound (both random: one draw of x_t per term) within 4 standard errors of their
    difference, on a tiny untrained DDPM; it is noisier than the full bound. The draws are
    copies of two images in one batch, each with its own steps and noise."""
    model = untrained(make_ddpm(timesteps=5, bound_steps=2)).float()  # float: 6x faster
    images = torch.tensor([[[[0, 1], [4, 2]]], [[[3, 3], [0, 1]]]])
    copies = 2000
    x = images.repeat(copies, 1, 1, 1)  # (copies * 2, 1, 2, 2)
    torch.manual_seed(0)
    with torch.no_grad():
        full = model.log_prob(x).double().view(copies, 2)
        estimates = model.log_prob_estimates(x, 1)["vlb-2"].double().view(copies, 2)
    error = ((full.var(0) + estimates.var(0)) / copies).sqrt()
    assert ((estimates.mean(0) - full.mean(0)).abs() < 4 * error).all()
    assert (estimates.std(0) > full.std(0)).all()
    with pytest.raises(GenbenchError, match=r"model.bound_steps=5 is not valid: .* \(4, "):
        make_ddpm(timesteps=5, bound_steps=5)


def test_loss_is_the_random_simple_loss_in_training_and_the_fixed_bound_in_evaluation():
    model = make_ddpm()
    x = torch.randint(0, 5, (6, 1, 2, 2))
    with torch.no_grad():
        val = model.loss(x)
        assert torch.equal(val, model.loss(x))
        expected = model.nats_to_bpd(estimate(model, x, VAL_SEED)).mean()
        assert torch.allclose(val, expected)
        model.train()
        assert not torch.equal(model.loss(x), model.loss(x))


@pytest.mark.parametrize(
    ("sample_steps", "variance", "calls"),
    [(None, "posterior", 20), (None, "beta", 20), (5, "posterior", 5), (1, "posterior", 1)],
)
def test_samplers_run_the_network_once_per_step_and_return_levels(sample_steps, variance, calls):
    """... and tell their progress after each step, when asked to."""
    model = make_ddpm(sample_steps=sample_steps, variance=variance)
    steps, told = [], []
    model.ema.register_forward_hook(lambda module, args, out: steps.append(args[1][0].item()))
    progress = lambda done, total: told.append((done, total, len(steps)))  # noqa: E731
    x = model.sample(9, torch.Generator().manual_seed(0), progress=progress)
    assert told == [(i, calls, i) for i in range(1, calls + 1)]  # each after its network pass
    assert len(steps) == calls and steps[0] == 20 and steps == sorted(steps, reverse=True)
    assert steps[-1] == (1 if calls > 1 else 20)
    assert x.shape == (9, 1, 2, 2) and x.dtype == torch.long
    assert int(x.min()) >= 0 and int(x.max()) <= 4


def test_bad_settings_are_reported():
    with pytest.raises(GenbenchError, match="sample_steps"):
        make_ddpm(sample_steps=21)
    with pytest.raises(GenbenchError, match="discrete images"):
        make_ddpm(DataSpec((1, 2, 2), num_levels=None, num_classes=None))
    with pytest.raises(GenbenchError, match="discrete images"):
        make_ddpm(DataSpec((16,), num_levels=2, num_classes=None))


def test_the_average_of_the_weights_is_saved_evaluated_and_not_trained():
    model = make_ddpm()
    net_params = sum(p.numel() for p in model.net.parameters())
    assert sum(p.numel() for p in model.parameters()) == net_params  # not counted
    assert any(k.startswith("ema.") for k in model.state_dict())  # saved
    optimized = {id(p) for g in model.configure_optimizers().param_groups for p in g["params"]}
    assert optimized == {id(p) for p in model.parameters()}
    with torch.no_grad():
        for p in model.net.parameters():
            p.add_(0.1)
    before = {k: v.clone() for k, v in model.ema.named_buffers()}
    model.on_train_batch_end(None, None, 0)  # step 0: the warmed-up decay is 1 / 10
    for name, p in model.net.named_parameters():
        expected = 0.1 * before[name] + 0.9 * p
        assert torch.allclose(model.ema.get_buffer(name), expected)
    x_t, t = torch.randn(3, 1, 2, 2, dtype=torch.float64), torch.tensor([1, 2, 3])
    assert torch.equal(model.eval().eps(x_t, t), model.ema(x_t, t))
    assert torch.equal(model.train().eps(x_t, t), model.net(x_t, t))
    assert not torch.allclose(model.ema(x_t, t), model.net(x_t, t))
