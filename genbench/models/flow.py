"""Normalizing flow on dequantized levels: RealNVP (Dinh et al., 2017) with Glow's actnorm and,
optionally, its invertible 1x1 convolutions (Kingma and Dhariwal, 2018).

A bijection f maps continuous data v to latents z = f(v) with p(z) = N(0, I); the density of v
is exact by the change of variables:

    log p_V(v) = log N(f(v); 0, I) + log |det df/dv|

Here f is: y = v / L (to the unit interval), a logit, then the multi-scale flow of affine
couplings (genbench/nets/flow.py). The data are levels x in {0..L-1}^D, so they are
dequantized, v = x + u with u in [0, 1)^D, and for any density q(u|x) on the unit cube

    log P(x) = log E_q [p_V(x + u) / q(u|x)]  >=  E_q [log p_V(x + u) - log q(u|x)]   (Jensen)

where P(x) = integral of p_V over x's unit cube is a discrete distribution (its mass is at
most 1). `dequantization: uniform` takes q = U[0, 1)^D, log q = 0 (Theis et al., 2016): the
standard bound, one u per example, kind `dequantized`. `variational` learns q(u|x), a flow
conditioned on x (Ho et al., 2019, Flow++), trained jointly on the same bound, and reports the
tighter importance-weighted estimate with K = eval.iwae_k draws (Burda et al., 2016), kind
`dequantized-iw-K`:  log (1/K) sum_k p_V(x + u_k) / q(u_k|x),  u_k ~ q(u|x).

`conditional: true` gives p(x|y) with Glow's class-conditional base: p(z|y) = N(mu_y,
diag sigma_y^2), a learned mean and scale per class (Kingma and Dhariwal, 2018), the bijection
shared by all classes (one flow trained on every class's images, not one per class). Without a
label the base is the mixture sum_y p(y) N(mu_y, sigma_y^2), so log p_V(v) stays exact and
the same u serves every class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genbench.constraints import (
    Annotated,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    Probability,
)
from genbench.data.base import DataSpec
from genbench.errors import GenbenchError
from genbench.models import vae  # vae.iwae_bound at call time: --impl swaps it in vae
from genbench.models.base import GenerativeModel
from genbench.nets.flow import Coupling, MultiScaleFlow, checkerboard_mask

LOG_2PI = math.log(2 * math.pi)
VAL_SEED = 0  # the validation bound's dequantization noise: the same every epoch, so epochs compare


def scale_to_unit(v: Tensor, num_levels: int) -> tuple[Tensor, Tensor]:
    """v (n, *shape) in [0, L)^D -> (y = v / L in [0, 1)^D, log|det dy/dv| = -D log L (n,))."""
    logdet = v.new_full((len(v),), -v[0].numel() * math.log(num_levels))
    return v / num_levels, logdet


def logit_transform(y: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    """y (n, *shape) in [0, 1] -> s = logit(alpha + (1 - 2 alpha) y), finite at 0 and 1 (Dinh
    et al., 2017), with log|det ds/dy| = sum [log(1 - 2 alpha) - log p - log(1 - p)] (n,),
    p = alpha + (1 - 2 alpha) y."""
    p = alpha + (1 - 2 * alpha) * y
    s = torch.log(p) - torch.log1p(-p)
    logdet = (math.log(1 - 2 * alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
    return s, logdet


def logit_inverse(s: Tensor, alpha: float) -> Tensor:
    """The inverse of `logit_transform`: y = (sigmoid(s) - alpha) / (1 - 2 alpha), same shape,
    in (-alpha / (1 - 2 alpha), 1 + alpha / (1 - 2 alpha))."""
    return (torch.sigmoid(s) - alpha) / (1 - 2 * alpha)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) = -1/2 sum_i (z_i^2 + log 2 pi), (n, D) -> (n,)."""
    return -0.5 * (z.pow(2) + LOG_2PI).sum(1)


def diagonal_normal_log_prob(z: Tensor, mean: Tensor, log_scale: Tensor) -> Tensor:
    """log N(z; mean, diag exp(2 log_scale)) = log N((z - mean) / scale; 0, I) - sum log scale,
    z (n, D), mean and log_scale (n, D) or (D,) -> (n,)."""
    return standard_normal_log_prob((z - mean) * torch.exp(-log_scale)) - log_scale.sum(-1)


def sigmoid_with_logdet(h: Tensor) -> tuple[Tensor, Tensor]:
    """u = sigmoid(h) in (0, 1), and log|det du/dh| = sum [log sigmoid(h) + log sigmoid(-h)] (n,)
    (Flow++'s last step from a flow's output to dequantization noise)."""
    logdet = (F.logsigmoid(h) + F.logsigmoid(-h)).flatten(1).sum(1)
    return torch.sigmoid(h), logdet


class Flow(GenerativeModel):
    likelihood = "bound"
    log_prob_kind = "dequantized"
    needs_images = True

    @dataclass
    class Config:
        scales: PositiveInt  # each scale but the last halves height and width, factors out half
        couplings: PositiveInt  # coupling steps per mask kind (checkerboard, channel) per scale
        hidden: PositiveInt  # channels of each coupling's conv net
        blocks: PositiveInt  # 3x3 conv layers (ReLU) of each coupling's net, before its output
        invconv: bool  # Glow's invertible 1x1 convolution before each coupling
        dropout: Probability
        logit_alpha: Annotated[float, Field(gt=0, lt=0.5)]  # y -> logit(alpha + (1-2 alpha) y)
        dequantization: Literal["uniform", "variational"]
        dequant_couplings: PositiveInt  # couplings of the flow q(u|x) (variational only)
        lr: PositiveFloat
        lr_schedule: Literal["constant", "cosine"]  # cosine: from lr to 0 over the whole run
        weight_decay: NonNegativeFloat
        conditional: bool  # p(x|y): a learned Gaussian base per class (labelled data)

    def __init__(self, spec: DataSpec, config: Config) -> None:
        super().__init__(spec, config)
        c = config
        if spec.num_levels is None or len(spec.shape) != 3:
            raise GenbenchError("flow needs discrete images (levels, shape C x H x W)")
        channels, height, width = spec.shape
        if c.scales > max_scales(height, width):
            raise GenbenchError(
                f"model.scales={c.scales} is not valid for {height}x{width} images: each scale "
                "but the last halves height and width, which must stay even and at least 2; "
                f"must be at most {max_scales(height, width)}"
            )
        self.flow = MultiScaleFlow(
            spec.shape, c.scales, c.couplings, c.hidden, c.blocks, c.dropout, c.invconv
        )
        if self.conditional:  # the base N(mu_y, sigma_y^2) per class, N(0, I) at the start
            self.prior_mean = nn.Embedding(spec.num_classes, spec.dim)
            self.prior_log_scale = nn.Embedding(spec.num_classes, spec.dim)
            nn.init.zeros_(self.prior_mean.weight)
            nn.init.zeros_(self.prior_log_scale.weight)
        if c.dequantization == "variational":
            self.log_prob_kind = "dequantized-iw"  # an instance's kind: K is in the estimate's
            self.dequantizer = nn.ModuleList(
                Coupling(channels, mask, c.hidden, c.blocks, c.dropout, cond_channels=channels)
                for mask in (
                    checkerboard_mask(height, width, i % 2) for i in range(c.dequant_couplings)
                )
            )

    # --- the change of variables -------------------------------------------------------------
    def to_latent(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """v (n, *shape) in [0, L)^D -> z (n, D) and log|det dz/dv| (n,)."""
        y, logdet_scale = scale_to_unit(v, self.spec.num_levels)
        s, logdet_logit = logit_transform(y, self.config.logit_alpha)
        z, logdet_flow = self.flow(s)
        return z, logdet_scale + logdet_logit + logdet_flow

    def base_log_prob(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """log p(z) (n,) of latents z (n, D): N(0, I); for a conditional model N(mu_y, sigma_y^2)
        given labels y (n,), else the mixture log sum_y p(y) N(z; mu_y, sigma_y^2)."""
        if not self.conditional:
            return standard_normal_log_prob(z)
        if y is None:  # the mixture over the classes, by the prior p(y)
            return self.marginalize_classes(lambda y: {"z": self.base_log_prob(z, y)}, len(z))["z"]
        return diagonal_normal_log_prob(z, self.prior_mean(y), self.prior_log_scale(y))

    def log_density(self, v: Tensor, y: Tensor | None = None) -> Tensor:
        """log p_V(v) = log p(f(v) [| y]) + log|det df/dv|, (n,) nats."""
        z, logdet = self.to_latent(v)
        return self.base_log_prob(z, y) + logdet

    def dequantize(self, x: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        """Dequantization noise u in [0, 1)^D for levels x (n, *shape) and log q(u|x) (n,), from
        `noise` (n, *shape): uniform in [0, 1) for q = uniform, standard normal for variational.

        Uniform: u = noise, log q = 0. Variational: h = g(eps; x) through couplings conditioned
        on x, u = sigmoid(h), and by the change of variables
        log q(u|x) = log N(eps) - log|det dh/deps| - log|det du/dh|."""
        if self.config.dequantization == "uniform":
            return noise, noise.new_zeros(len(x))
        cond = self.to_unit(x) - 0.5  # (n, C, H, W), the levels the noise is conditioned on
        h, logdet = noise, noise.new_zeros(len(x))
        for coupling in self.dequantizer:
            h, ld = coupling(h, cond)
            logdet = logdet + ld
        u, logdet_sigmoid = sigmoid_with_logdet(h)
        return u, standard_normal_log_prob(noise.flatten(1)) - logdet - logdet_sigmoid

    def log_weights(
        self,
        x: Tensor,
        k: int,
        generator: torch.Generator | None = None,
        y: Tensor | None = None,
    ) -> Tensor:
        """log p_V(x + u_k [| y]) - log q(u_k|x) for k draws u_k ~ q(u|x): (k, n) nats, each a
        stochastic lower bound on log P(x [| y])."""
        xs = x.repeat(k, *([1] * (x.dim() - 1))).to(self.dtype)  # (k*n, *shape)
        ys = None if y is None else y.repeat(k)
        draw = torch.rand if self.config.dequantization == "uniform" else torch.randn
        noise = draw(xs.shape, generator=generator, device=xs.device, dtype=xs.dtype)
        u, log_q = self.dequantize(xs, noise)
        return (self.log_density(xs + u, ys) - log_q).view(k, len(x))

    # --- training and evaluation -------------------------------------------------------------
    def loss(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The negative bound in bits/dim, mean over the batch, with one u per example; in
        evaluation (val_loss) with the same noise every epoch. Given labels: of log P(x|y)."""
        generator = None
        if not self.training:
            generator = torch.Generator(x.device).manual_seed(VAL_SEED)
        return self.nats_to_bpd(self.log_weights(x, 1, generator, y)[0]).mean()

    def log_prob(self, x: Tensor, num_samples: int = 1, y: Tensor | None = None) -> Tensor:
        """(n,) nats: log (1/K) sum_k p_V(x + u_k) / q(u_k|x) with K = num_samples, a lower bound
        on log P(x) (or log P(x|y) given labels) in expectation; K = 1 is the standard
        dequantization bound."""
        return vae.iwae_bound(self.log_weights(x, num_samples, y=y))

    def log_prob_estimates(
        self, x: Tensor, num_samples: int, y: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Uniform: the standard bound (one u per example). Variational: the importance-
        weighted estimate with K = num_samples draws from q(u|x). Given labels: of p(x|y)."""
        if self.config.dequantization == "uniform":
            return {"dequantized": self.log_prob(x, y=y)}
        return {f"dequantized-iw-{num_samples}": self.log_prob(x, num_samples, y)}

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW; with `lr_schedule: cosine` the rate falls from lr to 0 along a half cosine
        over the run's optimizer steps (Loshchilov and Hutter, 2017), stepped per batch."""
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay
        )
        if self.config.lr_schedule == "constant":
            return {"optimizer": optimizer}
        steps = int(self.trainer.estimated_stepping_batches)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def from_latent(self, z: Tensor) -> Tensor:
        """z (n, D) -> v (n, *shape), the inverse of `to_latent`; v lies outside [0, L)^D where
        the flow puts mass beyond the data's range."""
        y = logit_inverse(self.flow.inverse(z), self.config.logit_alpha)
        return y * self.spec.num_levels

    def sample(
        self, n: int, generator: torch.Generator | None = None, y: Tensor | None = None
    ) -> Tensor:
        """z ~ N(0, I) (conditional: mu_y + sigma_y N(0, I), labels y drawn from the class prior
        if not given), v = f^-1(z), x = floor(v): (n, *shape) levels, a draw from P(x); v
        beyond the data's range (mass P leaves out) is clamped to the nearest level."""
        z = torch.randn((n, self.spec.dim), generator=generator, device=self.device)
        if self.conditional:
            y = self.sample_classes(n, generator) if y is None else y
            z = self.prior_mean(y) + self.prior_log_scale(y).exp() * z
        v = self.from_latent(z.to(self.dtype))
        return torch.floor(v).clamp(0, self.spec.num_levels - 1).long()


def max_scales(height: int, width: int) -> int:
    """The most scales an image allows: each but the last halves both sides, which must be even
    and leave at least 2."""
    scales = 1
    while height % 2 == 0 and width % 2 == 0 and min(height, width) // 2 >= 2:
        height, width, scales = height // 2, width // 2, scales + 1
    return scales
