"""Checks of the naive-bayes assignment (spec: naive-bayes.yaml)."""

from __future__ import annotations

import torch
from sklearn.naive_bayes import CategoricalNB

from genbench.teaching.checks import Context, registry

CHECKS, check = registry()


def _data(ctx: Context, n: int = 120, d: int = 5, levels: int = 4, classes: int = 3):
    y = ctx.randint(0, classes, n)
    X = (ctx.randint(0, levels, n, d) + y.view(-1, 1)) % levels
    X[:, 0] = 0  # a level never seen in some classes: smoothing matters
    return X, y, levels, classes


def _sklearn(X, y, levels, alpha):
    model = CategoricalNB(alpha=alpha, min_categories=levels).fit(X.numpy(), y.numpy())
    prior = torch.as_tensor(model.class_log_prior_)
    return prior, torch.stack([torch.as_tensor(t) for t in model.feature_log_prob_], 1)


@check("fit", "unit", 3)
def fit_matches_scikit_learn(ctx: Context) -> None:
    X, y, levels, classes = _data(ctx)
    for alpha in (1.0, 0.5):
        got = ctx.student.fit(X, y, levels, classes, alpha)
        if not isinstance(got, tuple) or len(got) != 2:
            ctx.fail("fit must return (class_log_prior, feature_log_prob)")
        prior, log_prob = _sklearn(X, y, levels, alpha)
        ctx.close(got[0], prior, "class_log_prior")
        counts = torch.nn.functional.one_hot(X, levels).double()
        onehot = torch.nn.functional.one_hot(y, classes).double()
        raw = torch.einsum("nc,ndl->cdl", onehot, counts)
        totals = onehot.sum(0).view(-1, 1, 1)
        ctx.close(got[1], log_prob, f"feature_log_prob (alpha={alpha})", likely={
            "no smoothing (log of raw frequencies)": torch.log(raw / totals),
            "the smoothing denominator misses alpha times the number of levels":
                torch.log((raw + alpha) / (totals + alpha)),
        })  # fmt: skip


@check("fit", "property", 1, hidden=True)
def level_probabilities_sum_to_one(ctx: Context) -> None:
    X, y, levels, classes = _data(ctx, levels=6)
    _, log_prob = ctx.student.fit(X, y, levels, classes, 1.0)
    total = ctx.finite(ctx.tensor(log_prob, "feature_log_prob").exp().sum(-1), "p(x_d | c)")
    if not torch.allclose(total, torch.ones_like(total)):
        ctx.fail("p(x_d = l | c) does not sum to 1 over the levels: check the smoothing")


@check("joint_log_likelihood", "unit", 2)
def jll_matches_scikit_learn(ctx: Context) -> None:
    X, y, levels, _ = _data(ctx)
    prior, log_prob = _sklearn(X, y, levels, 1.0)
    model = CategoricalNB(alpha=1.0, min_categories=levels).fit(X.numpy(), y.numpy())
    want = torch.as_tensor(model.predict_joint_log_proba(X[:20].numpy()))
    ctx.close(ctx.student.joint_log_likelihood(X[:20], prior, log_prob), want,
              "joint_log_likelihood", likely={"the class log-prior is left out":
              want - prior})  # fmt: skip


@check("predict_proba", "unit", 1)
def bayes_rule(ctx: Context) -> None:
    jll = ctx.randn(6, 4, scale=5.0)
    ctx.close(ctx.student.predict_proba(jll), ctx.reference.predict_proba(jll), "predict_proba")


@check("predict_proba", "property", 2)
def stable_at_large_negative_log_likelihoods(ctx: Context) -> None:
    jll = ctx.randn(5, 3) - 1e4
    p = ctx.finite(ctx.student.predict_proba(jll), "predict_proba at jll near -1e4 (normalize "
                   "with log-sum-exp, not exp then divide)")  # fmt: skip
    if not torch.allclose(p.sum(1), torch.ones(5, dtype=p.dtype)):
        ctx.fail("predict_proba rows do not sum to 1")
    ctx.close(p, ctx.reference.predict_proba(jll), "predict_proba at jll near -1e4")
