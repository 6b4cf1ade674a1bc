"""Deterministic autoencoder with ex-post density estimation (Ghosh et al., 2020).

encode: x -> z (deterministic), decode: z -> a distribution over each pixel's levels. Training
minimizes the reconstruction negative log-likelihood -log p(x | decode(encode(x))), the loss
matched to the data (cross-entropy over levels, Bernoulli for 2 levels). An autoencoder is no
density model of x (`likelihood = "none"`), but it can sample: after training, a Gaussian mixture
is fitted to the training latents and decoded draws from it are the samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from sklearn.mixture import GaussianMixture
from torch import Tensor

from genbench.constraints import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Probability,
)
from genbench.data.base import DataSpec, Split
from genbench.distributions import output_distribution
from genbench.models.base import GenerativeModel
from genbench.nets.mlp import MLP


class Autoencoder(GenerativeModel):
    likelihood = "none"

    @dataclass
    class Config:
        latent_dim: PositiveInt
        hidden: PositiveInt  # width of each hidden layer
        layers: NonNegativeInt  # hidden layers in the encoder and in the decoder
        dropout: Probability
        decoder: Literal["auto", "categorical", "bernoulli", "discretized_logistic"]
        gmm_components: PositiveInt  # mixture components of the ex-post latent density
        lr: PositiveFloat
        weight_decay: NonNegativeFloat

    def __init__(self, spec: DataSpec, config: Config) -> None:
        super().__init__(spec, config)
        c = config
        self.output = output_distribution(c.decoder, spec.num_levels)
        self.encoder = MLP(spec.dim, c.latent_dim, c.hidden, c.layers, c.dropout)
        self.decoder = MLP(
            c.latent_dim, spec.dim * self.output.params_per_dim, c.hidden, c.layers, c.dropout
        )
        # the latent mixture, as buffers so it is saved with the weights; until it is fitted,
        # every component is the standard normal
        k, z = c.gmm_components, c.latent_dim
        self.register_buffer("gmm_weights", torch.full((k,), 1.0 / k))  # (k,)
        self.register_buffer("gmm_means", torch.zeros(k, z))  # (k, Z)
        self.register_buffer("gmm_scale_tril", torch.eye(z).repeat(k, 1, 1))  # (k, Z, Z)

    def encode(self, x: Tensor) -> Tensor:
        """x (n, *shape) levels -> z (n, latent_dim)."""
        return self.encoder(self.to_unit(x).flatten(1))

    def decode(self, z: Tensor) -> Tensor:
        """z (n, latent_dim) -> decoder parameters (n, D, P)."""
        return self.decoder(z).unflatten(-1, (self.spec.dim, self.output.params_per_dim))

    def reconstruction_log_prob(self, x: Tensor) -> Tensor:
        """(n,) nats: log p(x | decode(encode(x)))."""
        return self.output.log_prob(self.decode(self.encode(x)), x.flatten(1))

    def loss(self, x: Tensor) -> Tensor:
        """Reconstruction negative log-likelihood in bits/dim, averaged over the batch."""
        return self.nats_to_bpd(self.reconstruction_log_prob(x)).mean()

    def reconstruct(self, x: Tensor) -> Tensor:
        """x (n, *shape) -> the decoder's most likely levels, same shape."""
        return self.output.mode(self.decode(self.encode(x))).view_as(x)

    @torch.no_grad()
    def after_training(self, train: Split) -> None:
        """Fit the Gaussian mixture to the training latents (scikit-learn, full covariances)."""
        z = torch.cat([self.encode(train.x[i : i + 4096]) for i in range(0, len(train), 4096)])
        seed = int(torch.randint(2**31 - 1, ()))  # from torch's seeded RNG: reproducible
        gmm = GaussianMixture(self.config.gmm_components, covariance_type="full", random_state=seed)
        gmm.fit(z.double().cpu().numpy())
        as_buffer = {"dtype": self.gmm_means.dtype, "device": self.device}
        self.gmm_weights.copy_(torch.as_tensor(gmm.weights_, **as_buffer))
        self.gmm_means.copy_(torch.as_tensor(gmm.means_, **as_buffer))
        self.gmm_scale_tril.copy_(
            torch.linalg.cholesky(torch.as_tensor(gmm.covariances_, **as_buffer))
        )

    def latent_log_density(self, z: Tensor) -> Tensor:
        """(n, Z) -> (n,) log density of the fitted latent mixture, which samples come from."""
        diff = z.unsqueeze(1) - self.gmm_means  # (n, k, Z)
        tril = self.gmm_scale_tril.expand(len(z), -1, -1, -1)  # (n, k, Z, Z)
        solved = torch.linalg.solve_triangular(tril, diff.unsqueeze(-1), upper=False).squeeze(-1)
        log_det = torch.diagonal(self.gmm_scale_tril, dim1=-2, dim2=-1).log().sum(-1)  # (k,)
        dim = z.shape[-1]
        log_normal = -0.5 * solved.pow(2).sum(-1) - log_det - 0.5 * dim * math.log(2 * math.pi)
        return torch.logsumexp(log_normal + self.gmm_weights.log(), dim=1)

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, latent_dim) draws from the latent mixture: a component, then its Gaussian."""
        component = torch.multinomial(self.gmm_weights, n, replacement=True, generator=generator)
        eps = torch.randn(
            (n, self.config.latent_dim), generator=generator, device=self.device, dtype=self.dtype
        )
        scaled = (self.gmm_scale_tril[component] @ eps.unsqueeze(-1)).squeeze(-1)  # (n, Z)
        return self.gmm_means[component] + scaled

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Latent mixture draws decoded to their most likely levels: (n, *shape)."""
        z = self.sample_latents(n, generator)
        return self.output.mode(self.decode(z)).view(n, *self.spec.shape)
