"""The generative-model interface every model in genbench/models/ implements.

The LightningModule holds the science (loss, sampling, likelihood); the Trainer the engineering.
A subclass defines `Config`, `loss`, `sample` and, where its likelihood is exact or bounded,
`log_prob`; train/val share `_common_step`, and each epoch logs `f"{stage}_loss"`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import lightning.pytorch as pl
import torch
from torch import Tensor

from genbench.data.base import DataSpec, Split


class GenerativeModel(pl.LightningModule):
    """A generative model of data described by a DataSpec.

    likelihood: "exact" (log_prob is log p(x)), "bound" (a lower bound on it), "none".
    log_prob_kind: what log_prob returns, as reported beside bits/dim ("exact", "elbo", "vlb").
    monitor: the logged metric that picks the best checkpoint and stops training early (lower is
        better); None for models without a meaningful validation loss (a GAN's): the last epoch
        is kept and training runs its full length.
    """

    likelihood: ClassVar[str] = "none"
    log_prob_kind: ClassVar[str | None] = None
    monitor: ClassVar[str | None] = "val_loss"
    needs_levels: ClassVar[bool] = True  # discrete data only: likelihoods are of the levels
    Config: ClassVar[type]

    def __init__(self, spec: DataSpec, config: Any) -> None:
        super().__init__()
        self.spec = spec
        self.config = config
        # running (sum, count) of the loss per stage, logged once per epoch: Lightning's per-step
        # self.log costs about a millisecond a call, a large share of a small model's step
        self._loss_totals: dict[str, tuple[Tensor, int]] = {}

    # --- the science: subclasses implement these ---------------------------------------
    def loss(self, x: Tensor) -> Tensor:
        """Scalar training objective on a batch x of shape (n, *shape)."""
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws from the model, (n, *shape) in data space (levels for discrete data)."""
        raise NotImplementedError

    def log_prob(self, x: Tensor) -> Tensor:
        """(n,) nats: log p(x) or a lower bound on it, of kind `log_prob_kind`."""
        raise NotImplementedError(f"{type(self).__name__} has no likelihood")

    def after_training(self, train: Split) -> None:
        """Called once the best weights are loaded, before scoring, with the training split on
        the model's device: for work that needs the trained networks (the autoencoder fits its
        latent density here). Whatever it learns must live in buffers, so it is saved too."""

    def log_prob_estimates(self, x: Tensor, num_samples: int) -> dict[str, Tensor]:
        """Every likelihood estimate the model has, kind -> (n,) nats; the first is the headline.

        Models with several bounds (the VAE's ELBO and IWAE-K) override this.
        """
        return {str(self.log_prob_kind): self.log_prob(x)}

    # --- the engineering glue shared by all models -------------------------------------
    def training_step(self, batch: tuple[Tensor, Tensor | None], batch_idx: int) -> Tensor:
        return self._common_step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor | None], batch_idx: int) -> Tensor:
        return self._common_step(batch, "val")

    def _common_step(self, batch: tuple[Tensor, Tensor | None], stage: str) -> Tensor:
        x, _ = batch
        loss = self.loss(x)
        total, count = self._loss_totals.get(stage, (0.0, 0))
        self._loss_totals[stage] = (total + loss.detach() * len(x), count + len(x))
        return loss

    def on_validation_epoch_end(self) -> None:
        """Log the mean train_loss and val_loss of the epoch just finished (validation closes
        each epoch); sync_dist averages them over processes in multi-device runs."""
        for stage, (total, count) in self._loss_totals.items():
            self.log(f"{stage}_loss", total / count, prog_bar=True, sync_dist=True)
        self._loss_totals.clear()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay
        )

    # --- helpers -----------------------------------------------------------------------
    def nats_to_bpd(self, log_prob: Tensor) -> Tensor:
        """(n,) log-likelihood in nats -> (n,) bits per dimension (negated, so lower is better)."""
        return -log_prob / (self.spec.dim * math.log(2))

    def to_unit(self, x: Tensor) -> Tensor:
        """Levels (n, *shape) -> floats in [0, 1] of the same shape, the usual network input."""
        return x.to(self.dtype) / (self.spec.num_levels - 1)
