"""Checks of the ddpm assignment (spec: ddpm.yaml)."""

from __future__ import annotations

import torch

from genbench.schedules import NoiseSchedule
from genbench.teaching.checks import Context, registry

CHECKS, check = registry()


def _tables(steps: int = 20):
    s = NoiseSchedule.cosine(steps)
    return s.betas, s.alpha_bar


@check("alpha_bar", "unit", 1)
def cumulative_products(ctx: Context) -> None:
    betas = torch.cat([torch.zeros(1, dtype=torch.float64), 0.2 * ctx.rand(9)])
    ctx.close(
        ctx.student.alpha_bar(betas), ctx.reference.alpha_bar(betas), "alpha_bar(betas)",
        likely={"a sum where the product belongs": 1.0 - torch.cumsum(betas, 0),
                "the products start at t = 1, not t = 0": torch.cumprod(1.0 - betas[1:], 0)},
    )  # fmt: skip


def _noisy(ctx: Context, n: int = 6):
    betas, ab = _tables()
    x0, noise = ctx.randn(n, 1, 3, 3), ctx.randn(n, 1, 3, 3)
    t = ctx.randint(1, 21, n)
    return x0, noise, t, betas, ab


@check("q_sample", "unit", 2)
def forward_noising(ctx: Context) -> None:
    x0, noise, t, _, ab = _noisy(ctx)
    t_next = (t + 1).clamp(max=20)
    ctx.close(
        ctx.student.q_sample(x0, t, noise, ab), ctx.reference.q_sample(x0, t, noise, ab),
        "q_sample(x0, t, noise, alpha_bar)",
        likely={"alpha_bar is indexed at t + 1": ctx.reference.q_sample(x0, t_next, noise, ab)},
    )  # fmt: skip


@check("q_sample", "property", 1, hidden=True)
def forward_noising_keeps_unit_variance(ctx: Context) -> None:
    """For x_0 and noise of unit variance, x_t has unit variance at every t (a VP process)."""
    _, ab = _tables()
    x0, noise = ctx.randn(4000, 1, 1, 1), ctx.randn(4000, 1, 1, 1)
    t = torch.full((4000,), int(ctx.randint(1, 21, 1)))
    x_t = ctx.finite(ctx.student.q_sample(x0, t, noise, ab), "q_sample")
    if abs(float(x_t.var()) - 1.0) > 0.1:
        ctx.fail(f"x_t has variance {float(x_t.var()):.2f}, not 1: sqrt of alpha_bar missing?")


@check("posterior_mean_variance", "unit", 2)
def posterior_matches_reference(ctx: Context) -> None:
    x0, noise, t, betas, ab = _noisy(ctx)
    x_t = ctx.reference.q_sample(x0, t, noise, ab)
    mean, var = ctx.reference.posterior_mean_variance(x0, x_t, t, betas, ab)
    got = ctx.student.posterior_mean_variance(x0, x_t, t, betas, ab)
    if not isinstance(got, tuple) or len(got) != 2:
        ctx.fail("posterior_mean_variance must return (mean, variance)")
    # with alpha_bar[t] where alpha_bar[t - 1] belongs, beta~_t collapses to beta_t
    wrong = betas[t].view(-1, 1, 1, 1)
    ctx.close(
        got[1], var, "posterior variance",
        likely={"alpha_bar_t is used where alpha_bar_{t-1} belongs (index t - 1)": wrong},
    )  # fmt: skip
    ctx.close(got[0], mean, "posterior mean")


@check("predict_x0", "unit", 1)
def x0_from_noise(ctx: Context) -> None:
    x0, noise, t, _, ab = _noisy(ctx)
    x_t = ctx.reference.q_sample(x0, t, noise, ab)
    ctx.close(ctx.student.predict_x0(x_t, t, noise, ab), x0, "predict_x0 with the true noise")


@check("simple_loss", "unit", 1)
def mean_squared_error(ctx: Context) -> None:
    a, b = ctx.randn(4, 1, 3, 3), ctx.randn(4, 1, 3, 3)
    want = ctx.reference.simple_loss(a, b)
    ctx.close(ctx.student.simple_loss(a, b), want, "simple_loss(eps_pred, noise)",
              likely={"a sum where the mean belongs": want * a.numel()})  # fmt: skip


def _step_inputs(ctx: Context):
    x0, noise, t, betas, ab = _noisy(ctx)
    t[0] = 1  # the last step of sampling: no noise
    x_t = ctx.reference.q_sample(x0, t, noise, ab)
    return x_t, t, ctx.randn(*x0.shape), betas, ab, ctx.randn(*x0.shape)


@check("ancestral_step", "unit", 2)
def reverse_step(ctx: Context) -> None:
    x_t, t, eps, betas, ab, z = _step_inputs(ctx)
    want = ctx.reference.ancestral_step(x_t, t, eps, betas, ab, z)
    noisy_end = want.clone()
    noisy_end[0] = ctx.reference.ancestral_step(x_t, t.clamp(min=2), eps, betas, ab, z)[0]
    got = ctx.tensor(ctx.student.ancestral_step(x_t, t, eps, betas, ab, z), "ancestral_step")
    if got.shape == want.shape and not torch.allclose(got[0], want[0]):
        ctx.fail("ancestral_step adds noise at t = 1: the last step returns the mean")
    ctx.close(got, want, "ancestral_step(x_t, t, eps, betas, alpha_bar, noise)",
              likely={"noise is added at t = 1": noisy_end})  # fmt: skip


@check("ancestral_step", "property", 1, hidden=True)
def reverse_step_with_the_true_noise_is_the_posterior_mean(ctx: Context) -> None:
    """With noise 0 and eps the true noise, the step is the posterior mean given x_0."""
    x0, noise, t, betas, ab = _noisy(ctx)
    x_t = ctx.reference.q_sample(x0, t, noise, ab)
    mean, _ = ctx.reference.posterior_mean_variance(x0, x_t, t, betas, ab)
    got = ctx.student.ancestral_step(x_t, t, noise, betas, ab, torch.zeros_like(x0))
    ctx.close(got, mean, "ancestral_step with the true noise and z = 0")
