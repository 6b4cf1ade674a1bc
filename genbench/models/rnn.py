"""Autoregressive recurrent network (LSTM or GRU) over tokens: exact likelihood by the chain rule.

The same token sequences as the transformer (an example's D levels, flattened: raster order for
images) and the same factorization, log p(x) = sum_t log p(x_t | x_<t), each conditional a
categorical over the levels (genbench/models/autoregressive.py). Here the prefix x_<t is read
by a recurrent network: token embeddings, `model.layers` LSTM (Hochreiter and Schmidhuber,
1997) or GRU (Cho et al., 2014) layers of `model.hidden` units, and a linear map of the top
hidden state to the logits of the next token (the char-RNN of Karpathy, 2015; Graves, 2013).
Training and log_prob run the whole sequence at once; sampling carries the hidden state from
one token to the next, a constant cost per token (a transformer's grows with the prefix).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from genbench.constraints import NonNegativeFloat, PositiveFloat, PositiveInt, Probability
from genbench.data.base import DataSpec
from genbench.models.autoregressive import Autoregressive

RecurrentState = Tensor | tuple[Tensor, Tensor] | None  # GRU: h; LSTM: (h, c); each (layers, n, H)


class RNN(Autoregressive):
    @dataclass
    class Config:
        cell: Literal["lstm", "gru"]  # the recurrent layer: torch.nn.LSTM or torch.nn.GRU
        hidden: PositiveInt  # units per recurrent layer, and the width of the token embeddings
        layers: PositiveInt  # stacked recurrent layers
        dropout: Probability  # on the embeddings, between layers and before the output
        lr: PositiveFloat  # AdamW
        weight_decay: NonNegativeFloat  # AdamW
        temperature: PositiveFloat  # sampling only: logits / temperature; 1.0: the model itself
        conditional: bool  # p(x|y): a start token per class (labelled data)

    def __init__(self, spec: DataSpec, config: Config) -> None:
        super().__init__(spec, config)
        c = config
        recurrent = {"lstm": nn.LSTM, "gru": nn.GRU}[c.cell]
        self.embed = nn.Embedding(self.vocab_size, c.hidden)
        self.drop = nn.Dropout(c.dropout)
        self.rnn = recurrent(
            c.hidden, c.hidden, c.layers, batch_first=True, dropout=c.dropout if c.layers > 1 else 0
        )
        self.head = nn.Linear(c.hidden, spec.num_levels)

    def next_logits(
        self, tokens: Tensor, state: RecurrentState = None
    ) -> tuple[Tensor, RecurrentState]:
        """tokens (n, T) continuing the sequence summarized by the hidden `state` (None: zeros,
        the start) -> logits (n, T, L) of each next token, and the hidden state after the last."""
        h, state = self.rnn(self.drop(self.embed(tokens)), state)  # (n, T, H)
        return self.head(self.drop(h)), state  # (n, T, L)
