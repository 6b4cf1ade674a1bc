"""The generative-model interface every model in genbench/models/ implements.

The LightningModule holds the science (loss, sampling, likelihood); the Trainer the engineering.
A subclass defines `Config`, `loss`, `sample` and, where its likelihood is exact or bounded,
`log_prob`; train/val share `_common_step`, and each epoch logs the mean `f"{stage}_loss"`
(EpochLossLogging: call `self.accumulate_loss(stage, loss, n)` for any other loss to log).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import lightning.pytorch as pl
import torch
from torch import Tensor

from genbench.data.base import DataSpec, Split
from genbench.errors import GenbenchError
from genbench.levels import levels_to_unit
from genbench.training import EpochLossLogging


class GenerativeModel(EpochLossLogging, pl.LightningModule):
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
    needs_images: ClassVar[bool] = False  # examples must be (channels, height, width)
    # Config keys read only by `sample` (no weight or buffer depends on them): the ones
    # `genbench sample` may change when it draws from a stored run
    sampling_keys: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type]

    def __init__(self, spec: DataSpec, config: Any) -> None:
        super().__init__()
        self.spec = spec
        self.config = config
        if self.conditional:
            if spec.num_classes is None:
                raise GenbenchError("model.conditional needs a labelled dataset (e.g. digits)")
            # p(y) for marginalizing log p(x|y) into log p(x); set from the training labels
            uniform = torch.full((spec.num_classes,), -math.log(spec.num_classes))
            self.register_buffer("class_log_prior", uniform)

    @property
    def conditional(self) -> bool:
        """Whether the model is p(x|y), trained with labels (config key `conditional`, for the
        models that support it)."""
        return bool(getattr(self.config, "conditional", False))

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
        latent density here). Whatever it learns must live in buffers, so it is saved too.
        A conditional model sets its class prior p(y) from the training labels here."""
        if self.conditional and train.y is not None:
            counts = torch.bincount(train.y, minlength=self.spec.num_classes).to(
                self.class_log_prior
            )
            self.class_log_prior.copy_(torch.log(counts / counts.sum()))

    def marginalize_classes(
        self, given: Callable[[Tensor], dict[str, Tensor]], n: int
    ) -> dict[str, Tensor]:
        """Estimates of log p(x) = log sum_y p(y) p(x|y) from estimates of log p(x|y), kind by
        kind: `given(y)` returns them for labels y (n,). A sum of lower bounds is a lower bound,
        so a conditional model's bits/dim compare with an unconditional model's."""
        per_class = [
            given(torch.full((n,), label, dtype=torch.long, device=self.device))
            for label in range(self.spec.num_classes)
        ]
        prior = self.class_log_prior.unsqueeze(1)  # (classes, 1)
        return {
            kind: torch.logsumexp(torch.stack([e[kind] for e in per_class]) + prior, dim=0)
            for kind in per_class[0]
        }

    def sample_classes(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n,) labels drawn from the class prior p(y), for a conditional model's samples."""
        return torch.multinomial(
            self.class_log_prior.exp(), n, replacement=True, generator=generator
        )

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
        x, y = batch
        loss = self.loss(x, y) if self.conditional else self.loss(x)
        self.accumulate_loss(stage, loss, len(x))
        return loss

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
        return levels_to_unit(x.to(self.dtype), self.spec.num_levels)


class ExactLikelihood(GenerativeModel):
    """A model whose log_prob is log p(x) itself (the chain rule, the forward algorithm): its
    one estimate is exact, and it trains on the negative log-likelihood in bits/dim."""

    likelihood = "exact"
    log_prob_kind = "exact"

    def log_prob_estimates(
        self, x: Tensor, num_samples: int, y: Tensor | None = None
    ) -> dict[str, Tensor]:
        return {"exact": self.log_prob(x, y)}

    def loss(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Negative log-likelihood in bits/dim, averaged over the batch."""
        return self.nats_to_bpd(self.log_prob(x, y)).mean()
