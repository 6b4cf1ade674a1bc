"""Hand-made sequence data for the sequence models' tests: 1-D examples (shape (T,)), discrete
levels, the shape the sequence datasets (markov, text) have, with a density known exactly."""

from __future__ import annotations

import itertools

import lightning.pytorch as pl
import torch
from scipy.stats import chisquare

from genbench.data.base import Dataset, DataSpec, Split
from genbench.data.loader import TensorDataModule

# a first-order Markov chain over 3 levels: start distribution and transition matrix (rows: from)
START = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
TRANSITION = torch.tensor(
    [[0.8, 0.15, 0.05], [0.1, 0.2, 0.7], [0.5, 0.25, 0.25]], dtype=torch.float64
)


def markov_chain(n: int, length: int, seed: int) -> torch.Tensor:
    """(n, length) uint8 draws from the chain (START, TRANSITION)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.empty((n, length), dtype=torch.long)
    x[:, 0] = torch.multinomial(START, n, replacement=True, generator=g)
    for t in range(1, length):
        x[:, t] = torch.multinomial(TRANSITION[x[:, t - 1]], 1, generator=g)[:, 0]
    return x.to(torch.uint8)


def markov_log_prob(x: torch.Tensor) -> torch.Tensor:
    """(n, length) -> (n,) exact log-likelihood under the chain, nats."""
    x = x.long()
    return START[x[:, 0]].log() + TRANSITION[x[:, :-1], x[:, 1:]].log().sum(1)


def markov_dataset(length: int = 6, n_train: int = 2000) -> Dataset:
    """A 1-D dataset of chain draws: shape (length,), 3 levels, no labels."""
    spec = DataSpec((length,), num_levels=3, num_classes=None)
    train, val, test = (markov_chain(n, length, seed) for seed, n in enumerate([n_train, 200, 500]))
    return Dataset("markov-test", spec, Split(train, None), Split(val, None), Split(test, None))


def all_sequences(length: int, levels: int) -> torch.Tensor:
    """(levels^length, length) every sequence, in lexicographic order."""
    return torch.tensor(list(itertools.product(range(levels), repeat=length)))


def fit(model: pl.LightningModule, data: Dataset, steps: int, batch_size: int = 100) -> None:
    """`steps` optimizer steps of Lightning's Trainer on the training split."""
    trainer = pl.Trainer(
        max_steps=steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, datamodule=TensorDataModule(data, batch_size, 1000, seed=0))


def chi_square_pvalue(counts: torch.Tensor, probs: torch.Tensor) -> float:
    """Pearson's test of counts (k,) against probabilities (k,); cells expected below 5 are
    pooled into one (when there are any)."""
    expected = probs.double() * counts.sum()
    small = expected < 5
    observed, expected = counts[~small].double(), expected[~small]
    if small.any():
        observed = torch.cat([observed, counts[small].sum(0, keepdim=True).double()])
        expected = torch.cat([expected, expected.new_tensor([probs[small].sum() * counts.sum()])])
    return chisquare(
        observed.numpy(), expected.numpy() * observed.sum().item() / expected.sum().item()
    ).pvalue
