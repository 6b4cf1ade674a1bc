"""Factorized output distributions over discrete levels, for decoders that emit per-dim parameters.

Each maps network outputs `params` of shape (n, D, P) and data `x` of shape (n, D) (ints in
[0, L)) to an exact log-probability of the discrete data, so likelihoods are comparable in
bits per dimension across models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from genbench.errors import GenbenchError
from genbench.levels import levels_to_signed, signed_to_levels


class Categorical:
    """One free probability per level: the most flexible choice for few levels (e.g. 17)."""

    def __init__(self, num_levels: int) -> None:
        self.num_levels = num_levels
        self.params_per_dim = num_levels

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        """params (n, D, L) logits, x (n, D) -> (n,) nats."""
        logp = F.log_softmax(params, dim=-1)
        return logp.gather(-1, x.long().unsqueeze(-1)).squeeze(-1).sum(-1)

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        n, d, levels = params.shape
        probs = F.softmax(params, dim=-1).reshape(n * d, levels)
        return torch.multinomial(probs, 1, generator=generator).view(n, d)

    def mode(self, params: Tensor) -> Tensor:
        return params.argmax(-1)


class Bernoulli:
    """Two levels, one logit per dimension."""

    num_levels = 2
    params_per_dim = 1

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        """params (n, D, 1) logits, x (n, D) in {0, 1} -> (n,) nats."""
        logits = params.squeeze(-1)
        target = x.to(logits.dtype)
        return -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        probs = torch.sigmoid(params.squeeze(-1))
        u = torch.rand(probs.shape, generator=generator, device=probs.device)
        return (u < probs).long()

    def mode(self, params: Tensor) -> Tensor:
        return (params.squeeze(-1) > 0).long()


class DiscretizedLogistic:
    """A logistic density integrated over each level's bin (Salimans et al. 2017, PixelCNN++).

    Levels are mapped to [-1, 1]; the outermost bins extend to -inf and +inf so that the
    probabilities of the L levels sum to one. Two parameters per dimension: mean, log scale.
    """

    params_per_dim = 2

    def __init__(self, num_levels: int) -> None:
        self.num_levels = num_levels
        self.half_bin = 1.0 / (num_levels - 1)

    def _center(self, x: Tensor) -> Tensor:
        return levels_to_signed(x, self.num_levels)

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        """params (n, D, 2) = (mean, log scale), x (n, D) -> (n,) nats."""
        return self.log_prob_per_dim(params, x).sum(-1)

    def log_prob_per_dim(self, params: Tensor, x: Tensor) -> Tensor:
        """params (n, D, 2), x (n, D) -> (n, D) nats."""
        mean, log_scale = params.unbind(-1)
        log_scale = log_scale.clamp(min=-7.0)
        centered = self._center(x) - mean
        inv_scale = torch.exp(-log_scale)
        plus = inv_scale * (centered + self.half_bin)
        minus = inv_scale * (centered - self.half_bin)
        log_cdf_plus = F.logsigmoid(plus)  # log P(X <= upper edge): the lowest level's mass
        log_cdf_minus = F.logsigmoid(minus)
        log_one_minus_cdf_minus = -F.softplus(minus)  # log P(X > lower edge): the highest's
        # middle levels: log(cdf(plus) - cdf(minus)) = log cdf(plus) + log(1 - e^(difference)),
        # exact and stable in both tails (expm1 keeps narrow bins precise)
        log_mid = log_cdf_plus + torch.log(
            -torch.expm1(log_cdf_minus - log_cdf_plus).clamp(max=-1e-30)
        )
        level = x.long()
        logp = torch.where(
            level == 0,
            log_cdf_plus,
            torch.where(level == self.num_levels - 1, log_one_minus_cdf_minus, log_mid),
        )
        return logp

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        mean, log_scale = params.unbind(-1)
        u = torch.rand(mean.shape, generator=generator, device=mean.device).clamp(1e-5, 1 - 1e-5)
        value = mean + torch.exp(log_scale.clamp(min=-7.0)) * (torch.log(u) - torch.log1p(-u))
        return self._to_level(value)

    def mode(self, params: Tensor) -> Tensor:
        """The most likely level: the one at the logistic's centre, or an end level whose bin
        collects a tail (wide scales)."""
        candidates = [self._to_level(params[..., 0])]
        candidates += [torch.full_like(candidates[0], level) for level in (0, self.num_levels - 1)]
        logp = torch.stack([self.log_prob_per_dim(params, c) for c in candidates])  # (3, n, D)
        return torch.stack(candidates).gather(0, logp.argmax(0, keepdim=True)).squeeze(0)

    def _to_level(self, value: Tensor) -> Tensor:
        return signed_to_levels(value, self.num_levels)


OutputDistribution = Categorical | Bernoulli | DiscretizedLogistic
DECODERS = ("auto", "categorical", "bernoulli", "discretized_logistic")


def output_distribution(kind: str, num_levels: int | None) -> OutputDistribution:
    """The decoder distribution for `num_levels` levels; "auto" picks the usual match.

    auto: Bernoulli for 2 levels, categorical up to 64 levels, discretized logistic beyond
    (a categorical over 256 levels per pixel costs 256 outputs per dimension).
    """
    if num_levels is None:
        raise GenbenchError("this model needs discrete data (levels); the dataset is continuous")
    if kind == "auto":
        kind = (
            "bernoulli"
            if num_levels == 2
            else "categorical"
            if num_levels <= 64
            else "discretized_logistic"
        )
    if kind == "bernoulli":
        if num_levels != 2:
            raise GenbenchError(f"a bernoulli decoder needs 2 levels, the data has {num_levels}")
        return Bernoulli()
    if kind == "categorical":
        return Categorical(num_levels)
    if kind == "discretized_logistic":
        return DiscretizedLogistic(num_levels)
    raise GenbenchError(f"unknown decoder '{kind}'; valid: {', '.join(DECODERS)}")
