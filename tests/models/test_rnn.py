import pytest
import torch

from genbench.data.base import DataSpec
from genbench.models.rnn import RNN
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

LEVELS, LENGTH = 3, 4
SPEC = DataSpec((LENGTH,), num_levels=LEVELS, num_classes=None)  # 1-D: a sequence dataset's shape
ALL = all_sequences(LENGTH, LEVELS)  # (81, 4)


def make_model(cell="lstm", temperature=1.0, spec=SPEC, seed=0, random=True, **settings) -> RNN:
    """A tiny RNN; with `random`, large random weights in float64, so that p(x) is far from
    uniform and every conditional matters. Conditional on the class if `spec` has classes."""
    torch.manual_seed(seed)
    config = {
        "cell": cell,
        "hidden": 8,
        "layers": 2,
        "dropout": 0.0,
        "positions": True,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "temperature": temperature,
        "conditional": spec.num_classes is not None,
    }
    model = RNN(spec, RNN.Config(**(config | settings)))
    if random:
        model = model.double().eval()
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 1.0)
    return model


def index(x: torch.Tensor) -> torch.Tensor:
    """(n, LENGTH) sequences -> (n,) their rows in ALL (lexicographic order)."""
    return (x.long() * LEVELS ** torch.arange(LENGTH - 1, -1, -1)).sum(1)


CELLS = [("lstm", True), ("gru", False)]  # (model.cell, model.positions)


@pytest.mark.parametrize(("cell", "positions"), CELLS)
def test_probabilities_of_all_sequences_sum_to_one(cell, positions):
    model = make_model(cell, positions=positions)
    assert isinstance(model.rnn, {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell])
    assert (model.position is not None) == positions
    with torch.no_grad():
        log_p = model.log_prob(ALL)
    assert log_p.shape == (LEVELS**LENGTH,)
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-12)
    assert log_p.max() - log_p.min() > 2.0  # far from uniform: the check has something to see


@pytest.mark.parametrize(("cell", "positions"), CELLS)
def test_token_by_token_with_the_hidden_state_gives_the_one_pass_logits(cell, positions):
    """Sampling's path (one token at a time, the state carried) computes the same conditionals
    as training's (the whole shifted sequence at once); on 2-D images as on sequences, and
    given a class at every step for a conditional model."""
    image, labelled = DataSpec((1, 2, 3), 3, None), DataSpec((1, 2, 3), 3, num_classes=2)
    for spec in (SPEC, image, labelled):
        model = make_model(cell, spec=spec, positions=positions)
        x = torch.randint(0, 3, (5, *spec.shape), generator=torch.Generator().manual_seed(0))
        y = torch.tensor([0, 1, 1, 0, 1]) if spec.num_classes else None
        with torch.no_grad():
            whole = model.logits(x, y)  # (5, D, L)
            state, steps = None, []
            for token in model.shifted(x).split(1, dim=1):
                logits, state = model.next_logits(token, state, y)
                steps.append(logits)
        assert whole.shape == (5, spec.dim, 3)
        assert torch.allclose(torch.cat(steps, 1), whole, atol=1e-12)


def test_samples_follow_the_model_and_temperature_sharpens_them():
    """Samples at temperature 1 match exp(log_prob) over all 81 sequences; at 0.5 they match
    the product of the tempered conditionals instead, and the test tells the two apart."""
    n = 40_000
    counts = {}
    for temperature in (1.0, 0.5):
        x = make_model(temperature=temperature).sample(n, torch.Generator().manual_seed(0))
        assert x.shape == (n, LENGTH) and x.dtype == torch.long
        counts[temperature] = torch.bincount(index(x), minlength=LEVELS**LENGTH)
    model = make_model()
    with torch.no_grad():
        p = model.log_prob(ALL).exp()
        tempered = model.output.log_prob(model.logits(ALL) / 0.5, ALL).exp()
    assert chi_square_pvalue(counts[1.0], p) > 1e-3
    assert chi_square_pvalue(counts[0.5], tempered) > 1e-3
    assert chi_square_pvalue(counts[0.5], p) < 1e-6


def test_conditional_model_normalizes_per_class_and_marginally():
    spec = DataSpec((LENGTH,), num_levels=LEVELS, num_classes=2)
    model = make_model(spec=spec)
    with torch.no_grad():
        model.class_log_prior.copy_(torch.tensor([0.3, 0.7], dtype=torch.float64).log())
        given = [model.log_prob(ALL, torch.full((len(ALL),), y)).exp() for y in (0, 1)]
        marginal = model.log_prob(ALL).exp()
    assert [g.sum().item() for g in given] == pytest.approx([1.0, 1.0], abs=1e-12)
    assert torch.allclose(marginal, 0.3 * given[0] + 0.7 * given[1])
    assert not torch.allclose(given[0], given[1])  # the class embedding changes p(x)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_on_a_markov_chain_it_reaches_the_true_likelihood(cell):
    """On 1-D sequences of a known Markov chain, trained through Lightning's Trainer, the test
    NLL comes within 1% of the chain's own."""
    data = markov_dataset()
    model = make_model(cell, spec=data.spec, random=False, hidden=16, layers=1, lr=0.03)
    fit(model, data, steps=60, batch_size=250)
    model.eval()
    with torch.no_grad():
        nll = -model.log_prob(data.test.x).mean().item()
    true = -markov_log_prob(data.test.x).mean().item()
    assert nll < 1.01 * true


def test_a_run_on_bars_never_beats_the_true_entropy(tmp_path):
    """A run on bars (images of 2 levels with a known entropy H): its exact test NLL, an
    estimate of H + KL, is not below H by more than 3 standard errors."""
    cfg = tiny_config("rnn", "bars", "trainer.max_epochs=2", "eval.quality_samples=0")
    m = run(cfg, tmp_path).result["metrics"]
    assert m["bpd_kind"] == "exact" and m["bpd"] < 1.0  # 2 levels: uniform is 1 bit/dim
    assert m["entropy_gap"] >= -3 * m["bpd_se"]


def test_applies_to_sequences_as_to_images():
    """Not image-only: a 1-D dataset of discrete levels (a sequence dataset's DataSpec) takes
    the model and, with labels, its generative classifier; continuous data does not."""
    assert applies("rnn", DataSpec((16,), num_levels=5, num_classes=None)) is None
    assert applies("bayes-rnn", DataSpec((16,), num_levels=5, num_classes=3)) is None
    assert applies("rnn", DataSpec((16,), num_levels=None, num_classes=None)) is not None
