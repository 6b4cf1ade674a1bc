"""Likelihood and reconstruction metrics, in bits per dimension of the discrete data."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import torch
from torch import Tensor

from genbench.levels import levels_to_unit
from genbench.progress import Progress, part


def bits_per_dim(log_prob: Tensor, dim: int) -> Tensor:
    """(n,) log-likelihoods in nats -> (n,) bits per dimension (lower is better)."""
    return -log_prob / (dim * math.log(2))


def batched(fn: Callable[[Tensor], Tensor], x: Tensor, batch_size: int) -> Tensor:
    """fn over x in chunks of batch_size examples, results concatenated along dim 0."""
    return torch.cat([fn(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def summarize(name: str, bpd: Tensor) -> dict[str, float]:
    """Mean bits/dim over the examples and its standard error (sampling noise of the test set)."""
    return {name: bpd.mean().item(), f"{name}_se": (bpd.std() / math.sqrt(len(bpd))).item()}


@torch.no_grad()
def likelihood_metrics(
    model,
    x: Tensor,
    num_samples: int,
    rows_per_pass: int,
    entropy_bpd: float | None,
    progress: Progress | None = None,
) -> dict[str, float | str | int]:
    """bpd (the model's headline estimate) with its kind, bpd_iwae where the model has an IWAE
    bound, and the gap to the true entropy where it is known. `progress(done, len(x))` is told
    after each batch of examples, or, where the model's log_prob_estimates takes a `progress`
    (the DDPM's T network passes), of each of its steps.

    The entropy gap is test bpd minus entropy: the KL divergence the model still pays plus, for
    a bound, the bound's looseness. Its expectation is never negative.
    """
    chunk = max(1, rows_per_pass // num_samples)
    starts = range(0, len(x), chunk)
    stepwise = "progress" in inspect.signature(model.log_prob_estimates).parameters
    estimates: dict[str, list[Tensor]] = {}
    for index, i in enumerate(starts):
        told = {"progress": part(progress, index, len(starts))} if stepwise else {}
        for kind, value in model.log_prob_estimates(x[i : i + chunk], num_samples, **told).items():
            estimates.setdefault(kind, []).append(value)
        if progress is not None and not stepwise:
            progress(min(i + chunk, len(x)), len(x))
    dim = model.spec.dim
    (headline, values), *others = ((k, torch.cat(v)) for k, v in estimates.items())
    bpd = bits_per_dim(values, dim)
    metrics: dict[str, float | str | int] = {**summarize("bpd", bpd), "bpd_kind": headline}
    for kind, values in others:
        if kind.startswith("iwae-"):
            metrics.update(summarize("bpd_iwae", bits_per_dim(values, dim)))
            metrics["bpd_iwae_k"] = int(kind.removeprefix("iwae-"))
    if entropy_bpd is not None:
        metrics["entropy_bpd"] = entropy_bpd
        metrics["entropy_gap"] = float(metrics["bpd"]) - entropy_bpd
        if "bpd_iwae" in metrics:
            metrics["entropy_gap_iwae"] = float(metrics["bpd_iwae"]) - entropy_bpd
    return metrics


@torch.no_grad()
def reconstruction_metrics(model, x: Tensor, batch_size: int) -> dict[str, float]:
    """recon_mse on [0, 1]-scaled levels of the decoder's most likely output, and recon_bpd
    (-E_q log p(x|z) in bits/dim) where the model's decoder is a distribution."""
    metrics: dict[str, float] = {}
    if hasattr(model, "reconstruction_log_prob"):
        recon = bits_per_dim(batched(model.reconstruction_log_prob, x, batch_size), model.spec.dim)
        metrics.update(summarize("recon_bpd", recon))
    if hasattr(model, "reconstruct"):
        x_hat = batched(model.reconstruct, x, batch_size)
        error = levels_to_unit(x_hat.float() - x.float(), model.spec.num_levels)
        metrics["recon_mse"] = error.pow(2).mean().item()
    return metrics
