"""One contract, checked for every registered generative model (a new model gets it for free)."""

import inspect
import io

import lightning.pytorch as pl
import pytest
import torch

from genbench.data.base import Dataset, Split
from genbench.data.loader import TensorDataModule
from genbench.registry import MODELS
from genbench.runner import build_model, load_dataset, run
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def digits():
    return load_dataset(tiny_config("vae"))


def make(name, data, seed=0):
    return build_model(tiny_config(name, seed=seed), data)


@pytest.mark.parametrize("name", MODELS)
def test_samples_have_the_data_shape_and_levels(name, digits):
    model = make(name, digits).eval()
    with torch.no_grad():
        x = model.sample(7, generator=torch.Generator().manual_seed(0))
    assert x.shape == (7, *digits.spec.shape)
    assert not x.is_floating_point()
    assert int(x.min()) >= 0 and int(x.max()) < digits.spec.num_levels


def takes_progress(entry) -> bool:
    return "progress" in inspect.signature(entry.load().sample).parameters


STEPWISE = [name for name, entry in MODELS.items() if takes_progress(entry)]


@pytest.mark.parametrize("name", STEPWISE)
def test_a_sampling_loop_tells_its_progress_to_the_end_and_draws_the_same(name, digits):
    """Models whose `sample` is a long loop take `progress(done, total)` (evaluation shows it):
    told once a step, counting up to the total; telling it changes no sample."""
    model = make(name, digits).eval()
    told = []
    with torch.no_grad():
        x = model.sample(3, torch.Generator().manual_seed(0), progress=lambda *a: told.append(a))
        plain = model.sample(3, torch.Generator().manual_seed(0))
    total = told[-1][1]
    assert total > 1 and told == [(step, total) for step in range(1, total + 1)]
    assert torch.equal(x, plain)


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_weights_and_samples(name, digits):
    a, b, c = (
        make(name, digits, 0).eval(),
        make(name, digits, 0).eval(),
        make(name, digits, 1).eval(),
    )
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)
    assert any(
        not torch.equal(pa, pc)
        for pa, pc in zip(a.state_dict().values(), c.state_dict().values(), strict=True)
    )
    with torch.no_grad():
        sa = a.sample(5, generator=torch.Generator().manual_seed(3))
        sb = b.sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(sa, sb)


@pytest.mark.parametrize("name", MODELS)
def test_a_few_lightning_steps_lower_the_loss(name, digits):
    """Thirty optimizer steps through Lightning's Trainer (any optimization scheme) lower the
    model's loss on the batches it saw, measured with dropout off and fixed noise."""
    model = make(name, digits)
    x = digits.train.x[:256]

    def measured():
        model.eval()
        torch.manual_seed(0)
        with torch.no_grad():
            return torch.stack([model.loss(x) for _ in range(5)]).mean()

    before = measured()
    model.train()
    small = Dataset("small", digits.spec, Split(x, None), Split(x[:32], None), Split(x[:32], None))
    trainer = pl.Trainer(
        max_steps=30,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, datamodule=TensorDataModule(small, 32, 256, seed=0))
    assert measured() < before


@pytest.mark.parametrize("name", MODELS)
def test_weights_round_trip_through_a_weights_only_checkpoint(name, digits):
    model = make(name, digits, seed=0).eval()
    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict()}, buffer)
    buffer.seek(0)
    other = make(name, digits, seed=5).eval()
    other.load_state_dict(torch.load(buffer, weights_only=True)["state_dict"])
    with torch.no_grad():
        s1 = model.sample(4, generator=torch.Generator().manual_seed(1))
        s2 = other.sample(4, generator=torch.Generator().manual_seed(1))
        assert torch.equal(s1, s2)
        if model.likelihood != "none":
            x = digits.test.x[:6]
            torch.manual_seed(2)
            l1 = model.log_prob(x)
            torch.manual_seed(2)
            l2 = other.log_prob(x)
            assert l1.shape == (6,) and torch.isfinite(l1).all() and torch.equal(l1, l2)


@pytest.mark.parametrize("name", MODELS)
def test_a_run_stores_the_scorecard_of_its_kind(name, tmp_path):
    cfg = tiny_config(name, "digits", "trainer.max_epochs=1")
    outcome = run(cfg, tmp_path)
    m = outcome.result["metrics"]
    assert outcome.result["status"] == "done"
    assert {"params", "train_seconds", "epochs", "steps"} <= set(m)
    model_cls = MODELS[name].load()
    if model_cls.likelihood == "none":
        assert "bpd" not in m  # absent, never made up
    else:
        assert m["bpd_kind"] == model_cls.log_prob_kind and 0 < m["bpd"] < 10
    assert (outcome.directory / "samples.png").is_file()
