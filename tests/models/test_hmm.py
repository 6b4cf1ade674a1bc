import itertools

import numpy as np
import pytest
import torch

from genbench.data.base import DataSpec
from genbench.models.hmm import HMM, forward_log_likelihood, sample_hmm
from genbench.registry import applies
from genbench.runner import run
from tests.conftest import tiny_config
from tests.models.sequences import (
    all_sequences,
    chi_square_pvalue,
    fit,
    markov_dataset,
    markov_log_prob,
)

S, L, T = 3, 4, 5  # states, levels, length of the brute-force case


def random_params(seed: int, *batch: int, levels: int = L) -> tuple[torch.Tensor, ...]:
    """log pi, log A, log B of a random HMM (far from uniform), float64, with leading `batch`."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(*batch, S), (*batch, S, S), (*batch, S, levels)]
    logits = [2 * torch.randn(shape, generator=g, dtype=torch.float64) for shape in shapes]
    return tuple(torch.log_softmax(z, dim=-1) for z in logits)


def brute_force(log_pi, log_A, log_B, x) -> torch.Tensor:
    """log p(x) = log sum over all S^T hidden paths z of p(z, x), one sequence x (T,)."""
    pi, A, B = log_pi.exp(), log_A.exp(), log_B.exp()
    total = torch.zeros((), dtype=torch.float64)
    for z in itertools.product(range(S), repeat=len(x)):
        p = pi[z[0]] * B[z[0], x[0]]
        for t in range(1, len(x)):
            p = p * A[z[t - 1], z[t]] * B[z[t], x[t]]
        total = total + p
    return total.log()


def test_forward_algorithm_equals_the_sum_over_all_hidden_paths():
    """3 states, 5 tokens: 243 paths per sequence, summed by hand for 6 sequences; the forward
    algorithm gives the same log p(x), with shared and with per-sequence parameters."""
    x = torch.randint(0, L, (6, T), generator=torch.Generator().manual_seed(0))
    params = random_params(0)
    expected = torch.stack([brute_force(*params, seq) for seq in x])
    assert torch.allclose(forward_log_likelihood(*params, x), expected, rtol=0, atol=1e-12)
    per_sequence = random_params(1, 6)  # (6, S), (6, S, S), (6, S, L)
    expected = torch.stack([brute_force(*(p[i] for p in per_sequence), x[i]) for i in range(6)])
    assert torch.allclose(forward_log_likelihood(*per_sequence, x), expected, rtol=0, atol=1e-12)


def test_forward_algorithm_normalizes_and_stays_finite_on_long_sequences():
    """p(x) sums to 1 over all L^T sequences; in log space a 2000-token sequence, whose
    probability (below e^-1000) underflows even float64, has a finite log-likelihood in float32."""
    params = random_params(2)
    log_p = forward_log_likelihood(*params, all_sequences(T, L))
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-12)
    long = torch.randint(0, L, (2, 2000), generator=torch.Generator().manual_seed(0))
    log_p = forward_log_likelihood(*(p.float() for p in params), long)
    assert torch.isfinite(log_p).all() and (log_p < -1000).all()


def test_forward_algorithm_matches_hmmlearn():
    """hmmlearn's CategoricalHMM.score (scaled forward, NumPy/C) on the same parameters; run
    where hmmlearn is installed (it is no dependency of genbench's)."""
    hmm = pytest.importorskip("hmmlearn.hmm")
    log_pi, log_A, log_B = random_params(3)
    model = hmm.CategoricalHMM(n_components=S, n_features=L)
    model.startprob_, model.transmat_, model.emissionprob_ = (
        p.exp().numpy() for p in (log_pi, log_A, log_B)
    )
    x = torch.randint(0, L, (4, 30), generator=torch.Generator().manual_seed(1))
    ours = forward_log_likelihood(log_pi, log_A, log_B, x)
    theirs = [model.score(seq.numpy().reshape(-1, 1)) for seq in x]
    assert np.allclose(ours.numpy(), theirs, rtol=1e-10)


def test_ancestral_samples_follow_the_likelihood():
    """40,000 draws of 4 tokens over 3 levels match exp(log p(x)) over all 81 sequences (one
    HMM, and one per sequence's class), and the test tells a different HMM's apart."""
    n, length = 40_000, 4
    log_pi, log_A, log_B = random_params(4, levels=3)
    x = sample_hmm(log_pi, log_A, log_B, n, length, torch.Generator().manual_seed(0))
    assert x.shape == (n, length) and x.dtype == torch.long
    index = (x * 3 ** torch.arange(length).flip(0)).sum(1)  # position in all_sequences
    counts = torch.bincount(index, minlength=81)
    p = forward_log_likelihood(log_pi, log_A, log_B, all_sequences(length, 3)).exp()
    assert chi_square_pvalue(counts, p) > 1e-3
    other = forward_log_likelihood(log_pi, log_A.flip(0), log_B, all_sequences(length, 3)).exp()
    assert chi_square_pvalue(counts, other) < 1e-6


def make_hmm(spec: DataSpec, states: int = 3, lr: float = 0.05) -> HMM:
    torch.manual_seed(0)
    config = HMM.Config(
        states=states, lr=lr, weight_decay=0.0, conditional=spec.num_classes is not None
    )
    return HMM(spec, config)


def test_conditional_hmm_normalizes_per_class_and_marginally():
    spec = DataSpec((4,), num_levels=3, num_classes=2)
    model = make_hmm(spec).double()
    with torch.no_grad():
        model.class_log_prior.copy_(torch.tensor([0.3, 0.7], dtype=torch.float64).log())
        x = all_sequences(4, 3)
        given = [model.log_prob(x, torch.full((len(x),), y)).exp() for y in (0, 1)]
        marginal = model.log_prob(x).exp()
    assert [g.sum().item() for g in given] == pytest.approx([1.0, 1.0], abs=1e-12)
    assert torch.allclose(marginal, 0.3 * given[0] + 0.7 * given[1])
    assert not torch.allclose(given[0], given[1])  # each class has its own HMM


def test_on_a_markov_chain_it_reaches_the_true_likelihood():
    """A 3-level Markov chain is an HMM with 3 states (state = level): fitted by gradient
    descent on 1-D sequences, the HMM's test NLL comes within 1% of the chain's own."""
    data = markov_dataset()
    model = make_hmm(data.spec, states=3, lr=0.1)
    before = -model.log_prob(data.test.x).mean().item()
    fit(model, data, steps=60, batch_size=500)
    with torch.no_grad():
        nll = -model.log_prob(data.test.x).mean().item()
    true = -markov_log_prob(data.test.x).mean().item()
    assert before > 1.1 * true
    assert nll < 1.01 * true
    samples = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (5, 6) and int(samples.max()) < 3


def test_a_run_on_bars_never_beats_the_true_entropy(tmp_path):
    """A run on bars (images of 2 levels with a known entropy H): its exact test NLL, an
    estimate of H + KL, is not below H by more than 3 standard errors."""
    cfg = tiny_config("hmm", "bars", "trainer.max_epochs=2", "eval.quality_samples=0")
    m = run(cfg, tmp_path).result["metrics"]
    assert m["bpd_kind"] == "exact" and m["bpd"] < 1.0  # 2 levels: uniform is 1 bit/dim
    assert m["entropy_gap"] >= -3 * m["bpd_se"]


def test_applies_to_sequences_as_to_images():
    """Not image-only: a 1-D dataset of discrete levels (a sequence dataset's DataSpec) takes
    the model and, with labels, its generative classifier; continuous data does not."""
    assert applies("hmm", DataSpec((16,), num_levels=5, num_classes=None)) is None
    assert applies("bayes-hmm", DataSpec((16,), num_levels=5, num_classes=3)) is None
    assert applies("hmm", DataSpec((16,), num_levels=None, num_classes=None)) is not None
