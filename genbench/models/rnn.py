"""Autoregressive recurrent network (LSTM or GRU) over tokens: exact likelihood by the chain rule.

The same token sequences as the transformer (an example's D levels, flattened: raster order for
images) and the same factorization, log p(x) = sum_t log p(x_t | x_<t), each conditional a
categorical over the levels (genbench/models/autoregressive.py). Here the prefix x_<t is read
by a recurrent network: token embeddings (plus learned position embeddings, as the
transformer's, with `model.positions`: where a token sits in the image, its column, is
otherwise left to the network to count), `model.layers` LSTM (Hochreiter and Schmidhuber,
1997) or GRU (Cho et al., 2014) layers of `model.hidden` units, and a linear map of the top
hidden state to the logits of the next token (the char-RNN of Karpathy, 2015; Graves, 2013).
Training and log_prob run the whole sequence at once; sampling carries the hidden state from
one token to the next, a constant cost per token (a transformer's grows with the prefix).
Optimizer as the transformer's: AdamW, one-cycle schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from genbench.constraints import NonNegativeFloat, PositiveFloat, PositiveInt, Probability
from genbench.data.base import DataSpec
from genbench.models.autoregressive import Autoregressive

Hidden = Tensor | tuple[Tensor, Tensor]  # GRU: h; LSTM: (h, c); each (layers, n, H)
State = tuple[int, Hidden] | None  # tokens read so far and the hidden state; None: the start


class RNN(Autoregressive):
    @dataclass
    class Config:
        cell: Literal["lstm", "gru"]  # the recurrent layer: torch.nn.LSTM or torch.nn.GRU
        hidden: PositiveInt  # units per recurrent layer, and the width of the token embeddings
        layers: PositiveInt  # stacked recurrent layers
        dropout: Probability  # on the embeddings, between layers and before the output
        positions: bool  # learned position embeddings added to the token embeddings
        lr: PositiveFloat  # peak learning rate of the one-cycle schedule
        weight_decay: NonNegativeFloat  # AdamW, on weight matrices and embeddings only
        temperature: PositiveFloat  # sampling only: logits / temperature; 1.0: the model itself
        conditional: bool  # p(x|y): a class embedding added at every step (labelled data)

    def __init__(self, spec: DataSpec, config: Config) -> None:
        super().__init__(spec, config)
        c = config
        recurrent = {"lstm": nn.LSTM, "gru": nn.GRU}[c.cell]
        self.embed = nn.Embedding(self.vocab_size, c.hidden)
        self.position = nn.Embedding(spec.dim, c.hidden) if c.positions else None
        self.label = self.class_embedding(c.hidden)
        self.drop = nn.Dropout(c.dropout)
        self.rnn = recurrent(
            c.hidden, c.hidden, c.layers, batch_first=True, dropout=c.dropout if c.layers > 1 else 0
        )
        self.head = nn.Linear(c.hidden, spec.num_levels)

    def next_logits(
        self, tokens: Tensor, state: State = None, y: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """tokens (n, T) continuing the sequence `state` summarizes (None: the start, zero
        hidden state), of classes y (n,) if conditional -> logits (n, T, L) of each next
        token, and the state after the last."""
        start, hidden = state or (0, None)
        x = self.embed(tokens)  # (n, T, H)
        if self.label is not None:
            x = x + self.label(y)[:, None]  # the class at every step, (n, 1, H)
        if self.position is not None:
            x = x + self.position(torch.arange(start, start + tokens.size(1), device=self.device))
        h, hidden = self.rnn(self.drop(x), hidden)  # (n, T, H)
        return self.head(self.drop(h)), (start + tokens.size(1), hidden)  # (n, T, L)
