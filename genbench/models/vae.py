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
from torch import Tensor

from genbench.data.base import DataSpec
from genbench.distributions import output_distribution
from genbench.models.base import GenerativeModel
from genbench.nets.mlp import MLP

LOG_2PI = math.log(2 * math.pi)


class VAE(GenerativeModel):
    likelihood = "bound"
    log_prob_kind = "elbo"

    @dataclass
    class Config:
        latent_dim: int
        hidden: int  # width of each hidden layer
        layers: int  # hidden layers in the encoder and in the decoder
        dropout: float
        decoder: Literal["auto", "categorical", "bernoulli", "discretized_logistic"]
        lr: float
        weight_decay: float

    def __init__(self, spec: DataSpec, config: Config) -> None:
        super().__init__(spec, config)
        self.output = output_distribution(config.decoder, spec.num_levels)
        c = config
        self.encoder = MLP(spec.dim, 2 * c.latent_dim, c.hidden, c.layers, c.dropout)
        self.decoder = MLP(
            c.latent_dim, spec.dim * self.output.params_per_dim, c.hidden, c.layers, c.dropout
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (n, *shape) levels -> mean and log-variance of q(z|x), each (n, latent_dim)."""
        mu, logvar = self.encoder(self.to_unit(x).flatten(1)).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """z (..., latent_dim) -> decoder parameters (..., D, P)."""
        return self.decoder(z).unflatten(-1, (self.spec.dim, self.output.params_per_dim))

    def log_weights(self, x: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """Log importance weights log w_k and log p(x|z_k), each (k, n), for z_k ~ q(z|x)."""
        n = len(x)
        mu, logvar = self.encode(x)  # (n, Z)
        std = torch.exp(0.5 * logvar)
        eps = torch.randn((k, *mu.shape), device=mu.device, dtype=mu.dtype)  # (k, n, Z)
        z = mu + std * eps  # (k, n, Z), reparameterized
        params = self.decode(z).flatten(0, 1)  # (k*n, D, P)
        target = x.flatten(1).repeat(k, 1)  # (k*n, D)
        log_px_z = self.output.log_prob(params, target).view(k, n)
        log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)  # (k, n)
        log_qz = -0.5 * (eps.pow(2) + LOG_2PI + logvar).sum(-1)  # (k, n)
        return log_px_z + log_pz - log_qz, log_px_z

    def loss(self, x: Tensor) -> Tensor:
        """Negative single-sample ELBO in bits/dim, averaged over the batch."""
        log_w, _ = self.log_weights(x, 1)
        return self.nats_to_bpd(log_w[0]).mean()

    def log_prob(self, x: Tensor, num_samples: int = 1) -> Tensor:
        """(n,) ELBO in nats, estimated with `num_samples` draws from q(z|x)."""
        return self.log_weights(x, num_samples)[0].mean(0)

    def log_prob_estimates(self, x: Tensor, num_samples: int) -> dict[str, Tensor]:
        """ELBO and IWAE-K from the same K draws, so IWAE >= ELBO holds for every example."""
        log_w, _ = self.log_weights(x, num_samples)
        return {
            "elbo": log_w.mean(0),
            f"iwae-{num_samples}": torch.logsumexp(log_w, 0) - math.log(num_samples),
        }

    def reconstruction_log_prob(self, x: Tensor) -> Tensor:
        """(n,) nats: E_q(z|x) log p(x|z) from one draw, the ELBO's reconstruction term."""
        return self.log_weights(x, 1)[1][0]

    def reconstruct(self, x: Tensor) -> Tensor:
        """x (n, *shape) -> the decoder's most likely levels at z = mean of q(z|x), same shape."""
        mu, _ = self.encode(x)
        return self.output.mode(self.decode(mu)).view_as(x)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ N(0, I), then x ~ p(x|z): (n, *shape) levels."""
        z = torch.randn((n, self.config.latent_dim), generator=generator, device=self.device)
        return self.output.sample(self.decode(z), generator).view(n, *self.spec.shape)
