"""Autoregressive transformer over pixels: an exact likelihood by the chain rule.

The image's D pixel levels are tokens x_1..x_D in raster order (flatten (C, H, W)), and

    log p(x) = sum_t log p(x_t | x_<t)

with every conditional a categorical over the levels, read off a decoder-only transformer
(GPT; Radford et al., 2018) at position t. Its input is the sequence shifted right behind a
start token (the input vocabulary is the levels plus one), so position t has seen x_<t only,
and one forward pass gives all D conditionals: training and log_prob are parallel, sampling
draws one token after another (Chen et al., 2020, Image GPT; Parmar et al., 2018).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from genbench.constraints import NonNegativeFloat, PositiveFloat, PositiveInt, Probability
from genbench.data.base import DataSpec
from genbench.distributions import Categorical
from genbench.errors import GenbenchError
from genbench.models.base import GenerativeModel
from genbench.nets.transformer import Transformer as TransformerNet


class Transformer(GenerativeModel):
    likelihood = "exact"
    log_prob_kind = "exact"
    sampling_keys = ("temperature",)

    @dataclass
    class Config:
        n_layer: PositiveInt  # transformer blocks
        n_head: PositiveInt  # attention heads per block; n_embd must be a multiple
        n_embd: PositiveInt  # width of the residual stream
        dropout: Probability
        attention: Literal["fast", "explicit"]  # F.scaled_dot_product_attention or written out
        lr: PositiveFloat  # peak learning rate of the one-cycle schedule
        weight_decay: NonNegativeFloat  # AdamW, on weight matrices and embeddings only
        temperature: PositiveFloat  # sampling only: logits / temperature; 1.0: the model itself
        conditional: bool  # p(x|y): a start token per class (labelled data)

        def __post_init__(self) -> None:
            if self.n_embd % self.n_head:
                raise GenbenchError(
                    f"model.n_embd={self.n_embd} is not valid: must be a multiple of "
                    f"model.n_head ({self.n_head})"
                )

    def __init__(self, spec: DataSpec, config: Config) -> None:
        super().__init__(spec, config)
        if spec.num_levels is None:
            raise GenbenchError("the transformer models discrete data; this dataset is continuous")
        self.output = Categorical(spec.num_levels)
        # input-only start tokens after the levels 0..L-1: one, or one per class
        self.start_token = spec.num_levels
        starts = spec.num_classes if self.conditional else 1
        c = config
        self.net = TransformerNet(
            vocab_size=spec.num_levels + starts,
            n_out=spec.num_levels,
            block_size=spec.dim,
            n_layer=c.n_layer,
            n_head=c.n_head,
            n_embd=c.n_embd,
            dropout=c.dropout,
            fast=c.attention == "fast",
        )

    def start(self, n: int, y: Tensor | None) -> Tensor:
        """(n, 1) start tokens: the one start token, or the class's for a conditional model."""
        token = torch.full((n, 1), self.start_token, dtype=torch.long, device=self.device)
        return token if y is None else token + y.view(n, 1)

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """x (n, *shape) levels -> (n, D, L) logits; position t gives p(x_t | x_<t[, y])."""
        tokens = x.flatten(1).long()  # (n, D), raster order
        return self.net(torch.cat([self.start(len(x), y), tokens[:, :-1]], dim=1))  # (n, D, L)

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """(n,) nats: exact log p(x) (or log p(x|y) given labels), the sum of the D
        conditionals' log-probabilities; a conditional model without labels sums over the
        classes, log p(x) = log sum_y p(y) p(x|y), still exact."""
        if self.conditional and y is None:
            return self.marginalize_classes(lambda y: {"exact": self.log_prob(x, y)}, len(x))[
                "exact"
            ]
        return self.output.log_prob(self.logits(x, y), x.flatten(1))

    def log_prob_estimates(
        self, x: Tensor, num_samples: int, y: Tensor | None = None
    ) -> dict[str, Tensor]:
        return {"exact": self.log_prob(x, y)}

    def loss(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Negative log-likelihood in bits/dim, averaged over the batch."""
        return self.nats_to_bpd(self.log_prob(x, y)).mean()

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, y: Tensor | None = None
    ) -> Tensor:
        """Draw x_1, x_2, ... in raster order, each from p(x_t | x_<t) with its logits divided
        by the temperature; a KV cache keeps the earlier positions' keys and values. A
        conditional model without labels draws them from its class prior."""
        if self.conditional and y is None:
            y = torch.multinomial(
                self.class_log_prior.exp(), n, replacement=True, generator=generator
            )
        caches = self.net.new_caches()
        token = self.start(n, y)
        x = torch.empty((n, self.spec.dim), dtype=torch.long, device=self.device)
        for t in range(self.spec.dim):
            logits = self.net(token, caches) / self.config.temperature  # (n, 1, L)
            token = self.output.sample(logits, generator)  # (n, 1)
            x[:, t] = token[:, 0]
        return x.view(n, *self.spec.shape)

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW with weight decay on the weight matrices and embeddings (every parameter of 2
        or more dimensions; biases and LayerNorm gains are exempt, as in nanoGPT) and a one-cycle
        schedule (Smith and Topin, 2019) over the whole run, stepped per batch."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {
                "params": [p for p in params if p.dim() >= 2],
                "weight_decay": self.config.weight_decay,
            },
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=self.config.lr)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=self.config.lr,
            total_steps=int(self.trainer.estimated_stepping_batches),
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
