"""Autoregressive transformer over pixels: an exact likelihood by the chain rule.

The image's D pixel levels are tokens x_1..x_D in raster order (flatten (C, H, W)), and

    log p(x) = sum_t log p(x_t | x_<t)

with every conditional a categorical over the levels, read off a decoder-only transformer
(GPT; Radford et al., 2018) at position t. Its input is the sequence shifted right behind a
start token (genbench/models/autoregressive.py: the chain rule, shared with the RNN), so
position t has seen x_<t only, and one forward pass gives all D conditionals: training and
log_prob are parallel, sampling draws one token after another with a cache of keys and values
(Chen et al., 2020, Image GPT; Parmar et al., 2018).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from genbench.constraints import NonNegativeFloat, PositiveFloat, PositiveInt, Probability
from genbench.data.base import DataSpec
from genbench.errors import GenbenchError
from genbench.models.autoregressive import Autoregressive
from genbench.nets.transformer import KVCache
from genbench.nets.transformer import Transformer as TransformerNet


class Transformer(Autoregressive):
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
        conditional: bool  # p(x|y): a class embedding added at every position (labelled data)

        def __post_init__(self) -> None:
            if self.n_embd % self.n_head:
                raise GenbenchError(
                    f"model.n_embd={self.n_embd} is not valid: must be a multiple of "
                    f"model.n_head ({self.n_head})"
                )

    def __init__(self, spec: DataSpec, config: Config) -> None:
        super().__init__(spec, config)
        c = config
        self.net = TransformerNet(
            vocab_size=self.vocab_size,
            n_out=spec.num_levels,
            block_size=spec.dim,
            n_layer=c.n_layer,
            n_head=c.n_head,
            n_embd=c.n_embd,
            dropout=c.dropout,
            fast=c.attention == "fast",
        )
        self.label = self.class_embedding(c.n_embd)
        if self.label is not None:
            nn.init.normal_(self.label.weight, std=0.02)  # as the net's own embeddings (GPT-2)

    def next_logits(
        self, tokens: Tensor, state: list[KVCache] | None = None, y: Tensor | None = None
    ) -> tuple[Tensor, list[KVCache] | None]:
        """tokens (n, T), of classes y (n,) if conditional -> logits (n, T, L); with caches
        (`state`), the tokens continue the sequence they hold, and each step computes the new
        positions only."""
        condition = None if self.label is None else self.label(y)[:, None]  # (n, 1, C)
        return self.net(tokens, state, condition), state

    def initial_state(self) -> list[KVCache]:
        """Empty key/value caches, one per block, for sampling."""
        return self.net.new_caches()
