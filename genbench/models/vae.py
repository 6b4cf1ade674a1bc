"""Variational autoencoder (Kingma and Welling, 2014) with the IWAE bound (Burda et al., 2016).

q(z|x) = N(mu(x), diag sigma(x)^2), p(z) = N(0, I), p(x|z) a factorized distribution over the
data's levels (categorical, Bernoulli or discretized logistic), so the bounds are on the
probability of the discrete data itself:

    log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x),   z_k ~ q(z|x)
    ELBO    = mean_k log w_k          <=  IWAE-K = log mean_k exp(log w_k)  <=  log p(x)

Both are computed from the same K draws, so the IWAE bound is never looser than the ELBO.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genbench.constraints import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Probability,
)
from genbench.data.base import DataSpec
from genbench.distributions import output_distribution
from genbench.models.base import GenerativeModel
from genbench.nets.mlp import MLP

LOG_2PI = math.log(2 * math.pi)


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    """z = mu + exp(logvar / 2) * eps, a draw from N(mu, diag exp(logvar)) for eps ~ N(0, I)
    that is differentiable in mu and logvar (Kingma and Welling, 2014). All (..., Z)."""
    return mu + torch.exp(0.5 * logvar) * eps


def log_normal_diag(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mu, diag exp(logvar)) = -1/2 sum_i [(z_i - mu_i)^2 / exp(logvar_i) + logvar_i
    + log 2 pi], summed over the last dimension: (..., Z) -> (...)."""
    return -0.5 * ((z - mu).pow(2) * torch.exp(-logvar) + logvar + LOG_2PI).sum(-1)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) in closed form, summed over the last dimension:
    1/2 sum_i [exp(logvar_i) + mu_i^2 - 1 - logvar_i], (..., Z) -> (...)."""
    return 0.5 * (torch.exp(logvar) + mu.pow(2) - 1.0 - logvar).sum(-1)


def iwae_bound(log_w: Tensor) -> Tensor:
    """log (1/K) sum_k exp(log w_k) (Burda et al., 2016), (K, n) -> (n,); stable for log
    weights of any magnitude (log-sum-exp)."""
    return torch.logsumexp(log_w, 0) - math.log(log_w.size(0))


class VAE(GenerativeModel):
    likelihood = "bound"
    log_prob_kind = "elbo"

    @dataclass
    class Config:
        latent_dim: PositiveInt
        hidden: PositiveInt  # width of each hidden layer
        layers: NonNegativeInt  # hidden layers in the encoder and in the decoder
        dropout: Probability
        decoder: Literal["auto", "categorical", "bernoulli", "discretized_logistic"]
        conditional: bool  # p(x|y): the class one-hot enters the encoder and the decoder
        lr: PositiveFloat
        weight_decay: NonNegativeFloat

    def __init__(self, spec: DataSpec, config: Config) -> None:
        super().__init__(spec, config)
        self.output = output_distribution(config.decoder, spec.num_levels)
        c = config
        classes = spec.num_classes if self.conditional else 0
        self.encoder = MLP(spec.dim + classes, 2 * c.latent_dim, c.hidden, c.layers, c.dropout)
        out_dim = spec.dim * self.output.params_per_dim
        self.decoder = MLP(c.latent_dim + classes, out_dim, c.hidden, c.layers, c.dropout)

    def _with_label(self, h: Tensor, y: Tensor | None) -> Tensor:
        """Append the one-hot label to features h (..., F) of a conditional model."""
        if not self.conditional:
            return h
        onehot = F.one_hot(y, self.spec.num_classes).to(h.dtype)  # (n, classes)
        return torch.cat([h, onehot.expand(*h.shape[:-1], -1)], dim=-1)

    def encode(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x (n, *shape) levels -> mean and log-variance of q(z|x[, y]), each (n, latent_dim)."""
        h = self._with_label(self.to_unit(x).flatten(1), y)
        mu, logvar = self.encoder(h).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """z (..., n, latent_dim) -> decoder parameters (..., n, D, P)."""
        out = self.decoder(self._with_label(z, y))
        return out.unflatten(-1, (self.spec.dim, self.output.params_per_dim))

    def log_weights(self, x: Tensor, k: int, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Log importance weights log w_k and log p(x|z_k), each (k, n), for z_k ~ q(z|x)."""
        n = len(x)
        mu, logvar = self.encode(x, y)  # (n, Z)
        eps = torch.randn((k, *mu.shape), device=mu.device, dtype=mu.dtype)  # (k, n, Z)
        z = reparameterize(mu, logvar, eps)  # (k, n, Z)
        params = self.decode(z, y).flatten(0, 1)  # (k*n, D, P)
        target = x.flatten(1).repeat(k, 1)  # (k*n, D)
        log_px_z = self.output.log_prob(params, target).view(k, n)
        zero = torch.zeros_like(z)
        log_pz = log_normal_diag(z, zero, zero)  # (k, n), the prior N(0, I)
        # log q(z|x) = log_normal_diag(z, mu, logvar), written in eps = (z - mu) / sigma: the
        # same value without the rounding of z - mu
        log_qz = -0.5 * (eps.pow(2) + LOG_2PI + logvar).sum(-1)  # (k, n)
        return log_px_z + log_pz - log_qz, log_px_z

    def loss(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Negative single-sample ELBO in bits/dim, averaged over the batch."""
        log_w, _ = self.log_weights(x, 1, y)
        return self.nats_to_bpd(log_w[0]).mean()

    def log_prob(self, x: Tensor, num_samples: int = 1) -> Tensor:
        """(n,) ELBO in nats, estimated with `num_samples` draws from q(z|x)."""
        return self.log_prob_estimates(x, num_samples)["elbo"]

    def log_prob_estimates(
        self, x: Tensor, num_samples: int, y: Tensor | None = None
    ) -> dict[str, Tensor]:
        """ELBO and IWAE-K from the same K draws, so IWAE >= ELBO holds for every example.

        A conditional model bounds log p(x|y) for labels y; without y, log p(x) by summing over
        the classes (GenerativeModel.marginalize_classes)."""
        if self.conditional and y is None:
            return self.marginalize_classes(
                lambda y: self.log_prob_estimates(x, num_samples, y), len(x)
            )
        log_w, _ = self.log_weights(x, num_samples, y)
        return {
            "elbo": log_w.mean(0),
            f"iwae-{num_samples}": iwae_bound(log_w),
        }

    def reconstruction_log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """(n,) nats: E_q(z|x) log p(x|z) from one draw, the ELBO's reconstruction term."""
        return self.log_weights(x, 1, y)[1][0]

    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """x (n, *shape) -> the decoder's most likely levels at z = mean of q(z|x), same shape."""
        mu, _ = self.encode(x, y)
        return self.output.mode(self.decode(mu, y)).view_as(x)

    def sample(
        self, n: int, generator: torch.Generator | None = None, y: Tensor | None = None
    ) -> Tensor:
        """z ~ N(0, I), then x ~ p(x|z[, y]): (n, *shape) levels. A conditional model without
        labels draws them from its class prior."""
        if self.conditional and y is None:
            y = torch.multinomial(
                self.class_log_prior.exp(), n, replacement=True, generator=generator
            )
        z = torch.randn((n, self.config.latent_dim), generator=generator, device=self.device)
        return self.output.sample(self.decode(z, y), generator).view(n, *self.spec.shape)
