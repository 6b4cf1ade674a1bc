"""Markov text: windows of a random order-k Markov chain over a small alphabet, whose true entropy
is known exactly.

A state is the last k symbols, a k-gram read as a base-A number (oldest symbol the most
significant digit), so there are S = A^k states and emitting symbol a moves state s to
(s A + a) mod S. Each state's next-symbol distribution P[s] is drawn once from a symmetric
Dirichlet: a small concentration gives peaked rows and an entropy rate well below log2(A).
With pi the stationary distribution over states, the entropy rate (bits per symbol in the long
run) is

    h = -sum_s pi(s) sum_a P(a|s) log2 P(a|s)

and a window x_1..x_T whose first k-gram is drawn from pi (every window here is) has entropy

    H(X_1..X_T) = H(pi) + (T - k) h   bits,

the expected test negative log-likelihood of a perfect model of the window.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genbench.constraints import Annotated, Field, PositiveFloat, PositiveInt, Seed
from genbench.data.base import DataConfig, Dataset, DatasetFamily, DataSpec, Split, as_levels
from genbench.errors import GenbenchError

SYMBOLS = string.ascii_lowercase  # symbol a is written SYMBOLS[a] in samples.txt
MAX_STATES = 4096  # A^k: the stationary distribution is a dense S x S linear solve


def transition_rows(
    alphabet: int, order: int, concentration: float, rng: np.random.Generator
) -> np.ndarray:
    """P (A^k, A): row s is p(next symbol | state s), each drawn from Dirichlet(concentration)."""
    return rng.dirichlet(np.full(alphabet, concentration), size=alphabet**order)


def state_transitions(P: np.ndarray) -> np.ndarray:
    """The chain on k-grams, (S, S): Q[s, (s A + a) mod S] = P[s, a]."""
    S, A = P.shape
    Q = np.zeros((S, S))
    s = np.arange(S)[:, None]  # (S, 1)
    np.add.at(Q, (np.broadcast_to(s, P.shape), (s * A + np.arange(A)) % S), P)
    return Q


def stationary(P: np.ndarray) -> np.ndarray:
    """pi (S,): the distribution over k-grams that one step keeps, pi Q = pi, sum pi = 1 (unique
    when every P[s, a] > 0, as Dirichlet rows are)."""
    Q = state_transitions(P)
    S = len(Q)
    M = Q.T - np.eye(S)
    M[-1] = 1.0  # one balance equation is redundant: replace it by the normalization
    b = np.zeros(S)
    b[-1] = 1.0
    return np.clip(np.linalg.solve(M, b), 0.0, None)


def entropy_bits(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """-sum p log2 p along `axis`, with 0 log 0 = 0."""
    terms = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=axis)


def entropy_rate(P: np.ndarray, pi: np.ndarray) -> float:
    """h = sum_s pi(s) H(P[s]) bits per symbol: the chain's entropy in the long run."""
    return float(pi @ entropy_bits(P))


def window_entropy(P: np.ndarray, pi: np.ndarray, order: int, block_size: int) -> float:
    """H(X_1..X_T) = H(pi) + (T - k) h bits of a window of T symbols started from pi."""
    return float(entropy_bits(pi)) + (block_size - order) * entropy_rate(P, pi)


def first_symbols(states: np.ndarray, alphabet: int, order: int) -> np.ndarray:
    """k-gram state ids (n,) -> their symbols (n, k), oldest first."""
    powers = alphabet ** np.arange(order - 1, -1, -1)  # (k,)
    return (states[:, None] // powers) % alphabet


def sample_windows(
    P: np.ndarray, pi: np.ndarray, order: int, n: int, block_size: int, rng: np.random.Generator
) -> np.ndarray:
    """n independent windows (n, T) of symbols: the first k from pi, then each next symbol from
    P[state], all windows stepped together."""
    S, A = P.shape
    cdf = np.cumsum(P, axis=1)  # (S, A)
    states = rng.choice(S, size=n, p=pi / pi.sum())  # (n,)
    x = np.empty((n, block_size), dtype=np.int64)
    x[:, :order] = first_symbols(states, A, order)
    for t in range(order, block_size):
        u = rng.random(n)[:, None]  # (n, 1)
        symbol = np.minimum((cdf[states] < u).sum(axis=1), A - 1)  # inverse CDF, (n,)
        x[:, t] = symbol
        states = (states * A + symbol) % S
    return x


def decode(x: Tensor) -> str:
    """One window (T,) of symbols -> its text, symbol a written as the a-th letter."""
    return "".join(SYMBOLS[i] for i in x.tolist())


class Markov(DatasetFamily):
    name = "markov"

    @dataclass
    class Config(DataConfig):
        alphabet: Annotated[int, Field(ge=2, le=len(SYMBOLS))]  # A symbols, written a, b, c, ...
        order: Annotated[int, Field(ge=1, le=6)]  # k: the next symbol depends on the k before
        concentration: PositiveFloat  # Dirichlet's of each row of P: smaller, lower entropy
        block_size: Annotated[int, Field(ge=2)]  # T symbols per example
        n_train: PositiveInt  # windows per split, each drawn independently
        n_val: PositiveInt
        n_test: PositiveInt
        data_seed: Seed  # fixes the chain and the draws, independent of the run's seed

        def __post_init__(self) -> None:
            if self.alphabet**self.order > MAX_STATES:
                raise GenbenchError(
                    f"data.alphabet={self.alphabet} with data.order={self.order} is not valid: "
                    f"alphabet^order must be at most {MAX_STATES} states"
                )
            if self.block_size <= self.order:
                raise GenbenchError(
                    f"data.block_size={self.block_size} is not valid: must exceed "
                    f"data.order ({self.order})"
                )

    @classmethod
    def describe(cls, config: Config) -> DataSpec:
        return DataSpec((config.block_size,), num_levels=config.alphabet, num_classes=None)

    @classmethod
    def load(cls, config: Config, data_dir: Path) -> Dataset:
        c = config
        rng = np.random.default_rng(c.data_seed)
        P = transition_rows(c.alphabet, c.order, c.concentration, rng)
        pi = stationary(P)

        def draw(n: int) -> Split:
            x = sample_windows(P, pi, c.order, n, c.block_size, rng)
            return Split(as_levels(torch.from_numpy(x), c.alphabet), None)  # (n, T)

        return Dataset(
            cls.name,
            cls.describe(config),
            draw(c.n_train),
            draw(c.n_val),
            draw(c.n_test),
            entropy_bits=window_entropy(P, pi, c.order, c.block_size),
            entropy_rate_bits=entropy_rate(P, pi),
            decode=decode,
        )
