"""Checks of the gan assignment (spec: gan.yaml)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genbench.teaching.checks import Context, registry
from genbench.teaching.sandbox import Critic

CHECKS, check = registry()


@check("discriminator_loss", "unit", 2)
def d_loss_matches_reference(ctx: Context) -> None:
    real, fake = ctx.randn(8, scale=2.0), ctx.randn(8, scale=2.0)
    ctx.close(
        ctx.student.discriminator_loss(real, fake),
        ctx.reference.discriminator_loss(real, fake),
        "discriminator_loss(real_logits, fake_logits)",
        likely={"the real and fake labels are swapped": F.softplus(real).mean()
                + F.softplus(-fake).mean()},
    )  # fmt: skip


@check("discriminator_loss", "property", 1)
def d_loss_is_finite_at_extreme_logits(ctx: Context) -> None:
    real = torch.tensor([1000.0, -1000.0, 3.0], dtype=torch.float64)
    fake = torch.tensor([-1000.0, 1000.0, -3.0], dtype=torch.float64)
    what = "discriminator_loss at logits of +-1000 (use softplus, not log(sigmoid)): not finite"
    ctx.finite(ctx.student.discriminator_loss(real, fake), what)
    _, grads = ctx.student.with_grad(
        "discriminator_loss", real, fake, wrt=[real, fake],
        cotangents=[torch.ones((), dtype=torch.float64)],
    )  # fmt: skip
    for g in grads:
        if g is None or not torch.isfinite(g).all():
            ctx.fail("discriminator_loss has gradients that are not finite at logits of +-1000")


@check("generator_loss", "unit", 2)
def g_loss_matches_reference(ctx: Context) -> None:
    fake = ctx.randn(8, scale=2.0)
    ctx.close(
        ctx.student.generator_loss(fake), ctx.reference.generator_loss(fake),
        "generator_loss(fake_logits)",
        likely={"the saturating loss log(1 - D(G(z))), whose gradient vanishes early":
                -F.softplus(fake).mean()},
    )  # fmt: skip


@check("generator_loss", "property", 1, hidden=True)
def g_loss_pushes_hard_while_d_rejects(ctx: Context) -> None:
    """At fake logits of -10 (D sure they are fake) the gradient must stay large."""
    fake = torch.full((4,), -10.0, dtype=torch.float64)
    _, (g,) = ctx.student.with_grad(
        "generator_loss", fake, wrt=[fake], cotangents=[torch.ones((), dtype=torch.float64)]
    )
    if g is None or g.abs().sum() < 0.5:
        ctx.fail("generator_loss's gradient vanishes while D rejects the fakes: a saturating loss")


def _penalty_inputs(ctx: Context):
    real, fake = ctx.randn(5, 1, 2, 3), ctx.randn(5, 1, 2, 3)
    critic = Critic(ctx.randn(6, 4), ctx.randn(4), ctx.randn(4))
    return critic, real, fake, ctx.rand(5, 1, 1, 1)


@check("gradient_penalty", "unit", 2)
def penalty_matches_reference(ctx: Context) -> None:
    critic, real, fake, eps = _penalty_inputs(ctx)
    between = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(between).sum(), between)
    norms = grad.flatten(1).norm(dim=1)
    ctx.close(
        ctx.student.gradient_penalty(critic, real, fake, eps),
        ctx.reference.gradient_penalty(critic, real, fake, eps),
        "gradient_penalty(critic, real, fake, eps)",
        likely={
            "the deviation from 1 is not squared": (norms - 1).abs().mean(),
            "eps weights the fake, not the real": ctx.reference.gradient_penalty(
                critic, fake, real, eps
            ),
        },
    )


@check("gradient_penalty", "property", 2)
def penalty_trains_the_critic(ctx: Context) -> None:
    """The penalty must be differentiable in the critic's weights (create_graph=True)."""
    critic, real, fake, eps = _penalty_inputs(ctx)
    _, grads = ctx.student.with_grad(
        "gradient_penalty", critic, real, fake, eps,
        wrt=[critic.w1, critic.b1, critic.w2], cotangents=[torch.ones((), dtype=torch.float64)],
    )  # fmt: skip
    if any(g is None or g.abs().sum() == 0 for g in grads):
        ctx.fail("no gradient reaches the critic's weights: use create_graph=True")
    critic.w1.requires_grad_(True)
    want = torch.autograd.grad(ctx.reference.gradient_penalty(critic, real, fake, eps), critic.w1)
    critic.w1.requires_grad_(False)
    ctx.close(grads[0], want[0], "d penalty / d critic weights")
