"""Generative adversarial network (Goodfellow et al., 2014), optionally WGAN-GP (Gulrajani et al.,
2017), with DCGAN-style convolutional networks (Radford et al., 2016).

A generator G maps z ~ N(0, I) to an image in (-1, 1) (tanh); a discriminator D scores images.
With logits d = D(x), sigma the logistic function and softplus(t) = log(1 + e^t):

    non-saturating:  L_D = E_x[-log sigma(D(x))] + E_z[-log(1 - sigma(D(G(z))))]
                         = E_x softplus(-D(x)) + E_z softplus(D(G(z)))
                     L_G = E_z[-log sigma(D(G(z)))] = E_z softplus(-D(G(z)))
    wgan-gp:         L_D = E_z D(G(z)) - E_x D(x) + lambda E_xh (||grad_xh D(xh)||_2 - 1)^2,
                          xh = eps x + (1 - eps) G(z),  eps ~ U(0, 1) per example
                     L_G = -E_z D(G(z))

The non-saturating L_G (Goodfellow et al., section 3) replaces log(1 - sigma(D(G(z)))), whose
gradient vanishes while D rejects the fakes confidently, i.e. early in training.

Discrete data: level k of L owns the bin [-1 + 2k/L, -1 + 2(k+1)/L) of [-1, 1]. Real images
enter D as a uniform draw within each pixel's bin (dequantization, as for flows on images), so
real data are continuous like G's output and D cannot tell them apart by spotting exact level
values, a cue G's continuous output can never match; a sample is the level whose bin holds G's
output. There is no likelihood: the model reports none and keeps the last epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genbench.constraints import NonNegativeFloat, PositiveFloat, PositiveInt, Probability
from genbench.data.base import DataSpec
from genbench.errors import GenbenchError
from genbench.evaluation.images import save_grid
from genbench.levels import bins_to_levels, levels_to_bins
from genbench.models.base import GenerativeModel
from genbench.nets.conv import Discriminator, Generator

LossKind = Literal["non-saturating", "wgan-gp"]
USUAL_N_CRITIC = {"non-saturating": 1, "wgan-gp": 5}  # Goodfellow et al. k = 1; Gulrajani et al.


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Non-saturating L_D = E softplus(-D(x)) + E softplus(D(G(z))) from D's (n,) logits of
    real and generated images; softplus keeps it finite at logits of any size."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating L_G = E softplus(-D(G(z))) = E -log sigma(D(G(z))) from D's (n,) logits
    of generated images (Goodfellow et al., section 3)."""
    return F.softplus(-fake_logits).mean()


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """WGAN's L_D = E D(G(z)) - E D(x), without the gradient penalty; scores (n,)."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """WGAN's L_G = -E D(G(z)); scores (n,)."""
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, eps: Tensor
) -> Tensor:
    """E (||grad D(xh)||_2 - 1)^2 at xh = eps real + (1 - eps) fake (Gulrajani et al., 2017,
    algorithm 1), real and fake (n, *shape), eps (n, 1, ..., 1) in [0, 1]; differentiable
    (create_graph), so the critic learns from it."""
    between = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (n, *shape)
    (grad,) = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


class GAN(GenerativeModel):
    likelihood = "none"
    needs_images = True
    log_prob_kind = None
    monitor = None  # a GAN's losses do not measure sample quality: keep the last epoch
    grid_rows = 8  # per-epoch grids: grid_rows^2 samples from the same latents every epoch

    @dataclass
    class Config:
        loss: LossKind
        latent_dim: PositiveInt
        width: PositiveInt  # channels at full resolution, doubled at each halving (nets/conv.py)
        lr: PositiveFloat  # Adam, for both networks
        beta1: Probability
        beta2: Probability
        n_critic: PositiveInt | Literal["auto"]  # D steps per G step; auto: 1 NS, 5 wgan-gp
        gp_weight: NonNegativeFloat  # lambda of the gradient penalty (wgan-gp only)
        dequantize: bool  # real images uniform within their levels' bins, else bin centres

    def __init__(self, spec: DataSpec, config: Config) -> None:
        super().__init__(spec, config)
        if spec.num_levels is None or len(spec.shape) != 3:
            raise GenbenchError("the GAN needs images of discrete levels, shape (C, H, W)")
        self.automatic_optimization = False  # two optimizers, stepped by hand
        self.generator = Generator(config.latent_dim, spec.shape, config.width)
        self.discriminator = Discriminator(spec.shape, config.width)
        n_critic = config.n_critic
        self.n_critic = USUAL_N_CRITIC[config.loss] if n_critic == "auto" else n_critic

    # --- the science -------------------------------------------------------------------
    def latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, latent_dim) draws from N(0, I)."""
        shape = (n, self.config.latent_dim)
        return torch.randn(shape, generator=generator, device=self.device, dtype=self.dtype)

    def real_and_fake(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The levels x (n, *shape) in [-1, 1] (dequantized if configured) and n fresh fakes,
        both (n, *shape); no gradient flows to G through the fakes."""
        noise = torch.rand(x.shape, device=x.device) if self.config.dequantize else None
        real = levels_to_bins(x.to(self.dtype), self.spec.num_levels, noise)
        with torch.no_grad():
            fake = self.generator(self.latents(len(x)))
        return real, fake

    def critic_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """L_D without the penalty; real and fake go through D as one batch (D has no batch
        norm, so this equals two passes, at half the per-call cost)."""
        real_scores, fake_scores = self.discriminator(torch.cat([real, fake])).chunk(2)
        if self.config.loss == "wgan-gp":
            return wasserstein_critic_loss(real_scores, fake_scores)
        return discriminator_loss(real_scores, fake_scores)

    def penalty(self, real: Tensor, fake: Tensor) -> Tensor:
        """WGAN-GP's lambda E (||grad D(xh)||_2 - 1)^2 with a fresh eps per pair; 0 otherwise."""
        if self.config.loss != "wgan-gp":
            return torch.zeros((), device=real.device)
        shape = (len(real),) + (1,) * (real.dim() - 1)
        eps = torch.rand(shape, device=real.device, dtype=real.dtype)  # (n, 1, 1, 1)
        return self.config.gp_weight * gradient_penalty(self.discriminator, real, fake, eps)

    def generator_objective(self, n: int) -> Tensor:
        """L_G on n fresh fakes, the loss G's step lowers."""
        fake_scores = self.discriminator(self.generator(self.latents(n)))
        if self.config.loss == "wgan-gp":
            return wasserstein_generator_loss(fake_scores)
        return generator_loss(fake_scores)

    def loss(self, x: Tensor) -> Tensor:
        """D's loss on the real batch x against as many fresh fakes, without the gradient
        penalty: what the discriminator step lowers. Early training lowers it as D learns to
        tell real from fake; for wgan-gp it is minus the critic's Wasserstein estimate."""
        return self.critic_loss(*self.real_and_fake(x))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ N(0, I), G(z) rounded to the level whose bin holds it: (n, *shape) levels."""
        return bins_to_levels(self.generator(self.latents(n, generator)), self.spec.num_levels)

    # --- the engineering: two optimizers, stepped by hand ------------------------------
    def training_step(self, batch: tuple[Tensor, Tensor | None], batch_idx: int) -> Tensor:
        """One D step per batch, and one G step after every n_critic-th, so each critic step
        sees a fresh real batch (Gulrajani et al., algorithm 1). Returns the detached sum of
        the losses stepped, for the divergence guard."""
        x, _ = batch
        opt_g, opt_d = self.optimizers()

        real, fake = self.real_and_fake(x)
        d_loss = self.critic_loss(real, fake)
        self.accumulate_loss("train_d", d_loss, len(x))
        d_loss = d_loss + self.penalty(real, fake)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(d_loss)
        opt_d.step()
        total = d_loss.detach()

        if (batch_idx + 1) % self.n_critic == 0:
            with self.toggled_optimizer(opt_g):  # no gradients for D's weights in G's step
                g_loss = self.generator_objective(len(x))
                opt_g.zero_grad(set_to_none=True)
                self.manual_backward(g_loss)
                opt_g.step()
            self.accumulate_loss("train_g", g_loss, len(x))
            total = total + g_loss.detach()
        return total

    def validation_step(self, batch: tuple[Tensor, Tensor | None], batch_idx: int) -> Tensor:
        """D's loss on held-out images (logged as val_d_loss): when it climbs well above the
        training one, D is memorizing the training images (Karras et al., 2020)."""
        return self._common_step(batch, "val_d")

    def on_train_epoch_end(self) -> None:
        """Write samples from the same latents every epoch to <root>/samples/epoch_NNN.png
        (epochs from 1), so the grids show progress. Only when the Trainer records the run (it
        has a logger): a bare Trainer's root dir defaults to the working directory."""
        if self.logger is None or not self.trainer.is_global_zero:
            return
        training = self.generator.training
        self.generator.eval()  # batch norm on its running statistics, as in evaluation
        with torch.no_grad():
            fixed = torch.Generator(device=self.device).manual_seed(0)
            images = self.sample(self.grid_rows**2, fixed)
        self.generator.train(training)
        path = (
            Path(self.trainer.default_root_dir)
            / "samples"
            / f"epoch_{self.current_epoch + 1:03d}.png"
        )
        save_grid(images, self.spec.num_levels, path, self.grid_rows)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """Adam for G and for D (in that order), with the betas the GAN papers use."""
        c = self.config
        return [
            torch.optim.Adam(net.parameters(), lr=c.lr, betas=(c.beta1, c.beta2))
            for net in (self.generator, self.discriminator)
        ]
