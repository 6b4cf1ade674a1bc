"""The Markov dataset's exact entropy against independent answers: a two-symbol chain's closed
form, and Monte Carlo estimates of -log2 p over many draws."""

import math
import re

import numpy as np
import pytest
import torch

from genbench.config import resolve_data
from genbench.data import markov
from genbench.errors import GenbenchError


def binary_entropy(p: float) -> float:
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def test_a_two_symbol_first_order_chain_matches_its_closed_form():
    """P = [[1-p, p], [q, 1-q]]: pi = (q, p) / (p + q), h = pi_0 H(p) + pi_1 H(q)."""
    p, q, T = 0.1, 0.3, 20
    P = np.array([[1 - p, p], [q, 1 - q]])
    pi = markov.stationary(P)
    assert pi == pytest.approx([q / (p + q), p / (p + q)], abs=1e-12)
    h = (q * binary_entropy(p) + p * binary_entropy(q)) / (p + q)
    assert markov.entropy_rate(P, pi) == pytest.approx(h, abs=1e-12)
    first = binary_entropy(q / (p + q))
    assert markov.window_entropy(P, pi, 1, T) == pytest.approx(first + (T - 1) * h, abs=1e-12)


def test_the_stationary_distribution_of_a_second_order_chain_is_kept_by_a_step():
    P = markov.transition_rows(3, 2, 0.5, np.random.default_rng(0))  # (9, 3)
    pi = markov.stationary(P)
    # one step from pi, counted directly: the k-gram (b, c) follows (a, b) emitting c
    after = np.zeros(9)
    for s in range(9):
        for c in range(3):
            after[(s % 3) * 3 + c] += pi[s] * P[s, c]
    assert after == pytest.approx(pi, abs=1e-12) and pi.sum() == pytest.approx(1.0)


def log2_prob(P: np.ndarray, pi: np.ndarray, order: int, x: np.ndarray) -> np.ndarray:
    """log2 p of each window x (n, T), symbol by symbol: (n,) total and (n, T - k) per step."""
    A = P.shape[1]
    steps = np.zeros((len(x), x.shape[1] - order))
    first = np.zeros(len(x))
    for i, row in enumerate(x):
        state = 0
        for symbol in row[:order]:
            state = state * A + symbol
        first[i] = math.log2(pi[state])
        for t, symbol in enumerate(row[order:]):
            steps[i, t] = math.log2(P[state, symbol])
            state = (state * A + symbol) % len(P)
    return first + steps.sum(1), steps


def test_windows_are_drawn_with_the_entropy_the_dataset_claims():
    """Mean -log2 p(window) over many draws agrees with H(pi) + (T - k) h, and the mean
    per-symbol cost after the first k with h, each within 4 standard errors."""
    rng = np.random.default_rng(1)
    P = markov.transition_rows(4, 2, 0.5, rng)
    pi = markov.stationary(P)
    x = markov.sample_windows(P, pi, 2, 3000, 24, rng)
    total, steps = log2_prob(P, pi, 2, x)
    bits = -total
    se = bits.std() / math.sqrt(len(bits))
    assert abs(bits.mean() - markov.window_entropy(P, pi, 2, 24)) < 4 * se
    per_symbol = -steps.mean(1)  # one value per window: the windows are independent
    se = per_symbol.std() / math.sqrt(len(per_symbol))
    assert abs(per_symbol.mean() - markov.entropy_rate(P, pi)) < 4 * se


def test_the_dataset_is_fixed_by_its_seed_and_states_its_entropy():
    config = resolve_data("markov", ["data.n_train=50", "data.n_val=5", "data.n_test=5"])
    family = markov.Markov
    a, b = family.load(config, None), family.load(config, None)
    assert torch.equal(a.train.x, b.train.x)
    other = family.load(resolve_data("markov", ["data.data_seed=1"]), None)
    assert not torch.equal(a.train.x, other.train.x[:50])
    T = config.block_size
    assert a.spec.shape == (T,) and a.spec.num_levels == config.alphabet
    assert a.entropy_bpd == pytest.approx(a.entropy_bits / T)
    # well below log2(alphabet), and a window's first symbols cost more than the rate
    assert a.entropy_rate_bits < 0.8 * math.log2(config.alphabet)
    assert a.entropy_rate_bits < a.entropy_bpd < a.entropy_rate_bits * 1.01
    text = a.decode(a.train.x[0])
    assert len(text) == T and set(text) <= set(markov.SYMBOLS[: config.alphabet])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.alphabet=8", "data.order=5"], "alphabet^order must be at most 4096"),
        (["data.order=3", "data.block_size=3"], "must exceed data.order (3)"),
        (["data.alphabet=27"], "data.alphabet=27 is not valid"),
        (["data.concentration=0"], "data.concentration=0 is not valid"),
    ],
)
def test_bad_settings_are_named(overrides, message):
    with pytest.raises(GenbenchError, match=re.escape(message)):
        resolve_data("markov", overrides)
