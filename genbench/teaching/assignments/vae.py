"""Checks of the vae assignment (spec: vae.yaml)."""

from __future__ import annotations

import math

import torch

from genbench.teaching.checks import Context, registry

CHECKS, check = registry()


def _gaussian(ctx: Context, *shape: int):
    return ctx.randn(*shape), ctx.randn(*shape, scale=0.7), ctx.randn(*shape)


@check("reparameterize", "unit", 2)
def draw_matches_reference(ctx: Context) -> None:
    mu, logvar, eps = _gaussian(ctx, 3, 5)
    ctx.close(
        ctx.student.reparameterize(mu, logvar, eps),
        ctx.reference.reparameterize(mu, logvar, eps),
        "reparameterize(mu, logvar, eps)",
        likely={
            "logvar is used as the standard deviation": mu + logvar * eps,
            "exp(logvar) is the variance, not the standard deviation": mu + logvar.exp() * eps,
        },
    )


@check("reparameterize", "gradient", 1, hidden=True)
def draw_gradients(ctx: Context) -> None:
    mu, logvar, eps = _gaussian(ctx, 2, 4, 3)
    ctx.gradcheck("reparameterize", [mu, logvar, eps], wrt=[0, 1])


@check("log_normal_diag", "unit", 2)
def log_density_matches_reference(ctx: Context) -> None:
    z, (mu, logvar, _) = ctx.randn(4, 6), _gaussian(ctx, 4, 6)
    want = ctx.reference.log_normal_diag(z, mu, logvar)
    ctx.close(
        ctx.student.log_normal_diag(z, mu, logvar), want, "log_normal_diag(z, mu, logvar)",
        likely={
            "the logvar term (log of the normalizer) is missing":
                -0.5 * ((z - mu) ** 2 * torch.exp(-logvar) + math.log(2 * math.pi)).sum(-1),
            "not summed over the last dimension": want.unsqueeze(-1).expand(4, 6) / 6,
        },
    )  # fmt: skip


@check("log_normal_diag", "property", 1, hidden=True)
def log_density_integrates_to_one(ctx: Context) -> None:
    """In one dimension the density integrates to 1 (a Riemann sum over +-12 sigma)."""
    mu, logvar = ctx.randn(1), ctx.randn(1, scale=0.5)
    sigma = float(torch.exp(0.5 * logvar))
    grid = torch.linspace(-12, 12, 4001, dtype=torch.float64).view(-1, 1) * sigma + mu
    log_p = ctx.finite(ctx.student.log_normal_diag(grid, mu, logvar), "log_normal_diag")
    mass = float(log_p.exp().sum() * (grid[1] - grid[0]))
    if abs(mass - 1.0) > 1e-3:
        ctx.fail(f"the density integrates to {mass:.4f}, not 1: the logvar term is off")


@check("gaussian_kl", "unit", 2)
def kl_matches_reference(ctx: Context) -> None:
    mu, logvar, _ = _gaussian(ctx, 5, 3)
    want = ctx.reference.gaussian_kl(mu, logvar)
    ctx.close(
        ctx.student.gaussian_kl(mu, logvar), want, "gaussian_kl(mu, logvar)",
        likely={"the sign is flipped (a KL is never negative)": -want},
    )  # fmt: skip


@check("gaussian_kl", "property", 1, hidden=True)
def kl_is_zero_at_the_prior_and_positive_elsewhere(ctx: Context) -> None:
    zero = torch.zeros(3, 4, dtype=torch.float64)
    ctx.close(
        ctx.student.gaussian_kl(zero, zero),
        torch.zeros(3, dtype=torch.float64),
        "KL(N(0,I)||N(0,I))",
    )
    mu, logvar, _ = _gaussian(ctx, 6, 4)
    if (ctx.tensor(ctx.student.gaussian_kl(mu, logvar), "gaussian_kl") <= 0).any():
        ctx.fail("gaussian_kl is not positive away from the prior: check its sign")


@check("iwae_bound", "unit", 2)
def bound_matches_reference(ctx: Context) -> None:
    log_w = ctx.randn(7, 4, scale=3.0)
    ctx.close(ctx.student.iwae_bound(log_w), ctx.reference.iwae_bound(log_w), "iwae_bound(log_w)")


@check("iwae_bound", "property", 2)
def bound_is_stable_for_large_log_weights(ctx: Context) -> None:
    """Log weights of -1000 (a typical image's log-likelihood in nats) need log-sum-exp."""
    log_w = ctx.randn(5, 3) - 1000.0
    got = ctx.finite(ctx.student.iwae_bound(log_w), "iwae_bound at log weights near -1000: "
                     "a naive log(mean(exp)) underflows; use log-sum-exp")  # fmt: skip
    ctx.close(got, ctx.reference.iwae_bound(log_w), "iwae_bound at log weights near -1000")


@check("iwae_bound", "property", 1, hidden=True)
def bound_shifts_with_its_weights_and_lies_above_the_mean(ctx: Context) -> None:
    log_w = ctx.randn(9, 4, scale=2.0)
    base = ctx.tensor(ctx.student.iwae_bound(log_w), "iwae_bound")
    ctx.close(ctx.student.iwae_bound(log_w + 5.0), base + 5.0, "iwae_bound(log_w + c) - c")
    if (base < log_w.mean(0) - 1e-12).any():
        ctx.fail("iwae_bound lies below the ELBO mean(log_w): it is log mean exp, by Jensen >=")
