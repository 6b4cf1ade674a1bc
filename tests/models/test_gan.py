import csv
import math

import lightning.pytorch as pl
import pytest
import torch

from genbench.callbacks import Diverged, DivergenceGuard
from genbench.data.loader import TensorDataModule
from genbench.errors import GenbenchError
from genbench.models.gan import (
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from genbench.runner import build_model, load_dataset, run
from tests.conftest import tiny_config

REAL = torch.tensor([2.0, -1.0])  # discriminator logits
FAKE = torch.tensor([0.5, -3.0])


def sigmoid(t):
    return 1 / (1 + math.exp(-t))


def test_non_saturating_losses_are_binary_cross_entropies():
    """L_D = BCE(real, label 1) + BCE(fake, label 0); L_G = BCE(fake, label 1), by hand."""
    d = -sum(math.log(sigmoid(float(t))) for t in REAL) / 2
    d -= sum(math.log(1 - sigmoid(float(t))) for t in FAKE) / 2
    g = -sum(math.log(sigmoid(float(t))) for t in FAKE) / 2
    assert discriminator_loss(REAL, FAKE).item() == pytest.approx(d)
    assert generator_loss(FAKE).item() == pytest.approx(g)


def test_wasserstein_losses_are_differences_of_mean_scores():
    assert wasserstein_critic_loss(REAL, FAKE).item() == pytest.approx(-1.25 - 0.5)
    assert wasserstein_generator_loss(FAKE).item() == pytest.approx(1.25)


def test_gradient_penalty_of_a_linear_critic_is_its_closed_form():
    """D(x) = w.x + b has gradient w everywhere: penalty lambda (|w| - 1)^2 = 10 * 4^2, and its
    gradient with respect to w is 2 lambda (|w| - 1) w / |w| (the critic learns from it)."""
    w = torch.tensor([3.0, 0.0, 4.0, 0.0], requires_grad=True)  # |w| = 5
    torch.manual_seed(0)
    real, fake = torch.rand(6, 1, 2, 2), torch.rand(6, 1, 2, 2)
    eps = torch.rand(6, 1, 1, 1)
    penalty = 10.0 * gradient_penalty(lambda x: x.flatten(1) @ w + 0.3, real, fake, eps)
    assert penalty.item() == pytest.approx(160.0)
    penalty.backward()
    assert torch.allclose(w.grad, 2 * 10.0 * 4.0 * w.detach() / 5.0)


def mean_image_distance(model, data):
    """RMS difference, in levels, between the mean of 1000 samples and the training mean."""
    model.eval()
    with torch.no_grad():
        x = model.sample(1000, generator=torch.Generator().manual_seed(0)).float()
    model.train()
    return (x.mean(0) - data.train.x.float().mean(0)).pow(2).mean().sqrt().item()


@pytest.mark.parametrize(("loss", "lr"), [("non-saturating", 2e-4), ("wgan-gp", 1e-3)])
def test_training_moves_the_samples_toward_the_data(loss, lr, tmp_path):
    """Six epochs on digits (102 D steps) bring the samples' mean image much closer to the data's
    than the untrained generator's mid-grey: a G step of the wrong sign, or none, would not."""
    cfg = tiny_config(
        "gan",
        "digits",
        f"model.loss={loss}",
        f"model.lr={lr}",
        "model.width=16",
        "model.latent_dim=16",
    )
    data = load_dataset(cfg)
    model = build_model(cfg, data)
    before = mean_image_distance(model, data)
    trainer = pl.Trainer(
        max_epochs=6,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=TensorDataModule(data, 64, 1000, seed=0))
    after = mean_image_distance(model, data)
    assert after < 0.7 * before, (before, after)
    assert not (tmp_path / "samples").exists()  # a Trainer without a logger writes no grids


def test_a_run_writes_a_grid_and_logs_both_losses_every_epoch(tmp_path):
    cfg = tiny_config("gan", "digits", "trainer.max_epochs=2")
    outcome = run(cfg, tmp_path)
    samples = outcome.directory / "samples"
    assert sorted(p.name for p in samples.iterdir()) == ["epoch_001.png", "epoch_002.png"]
    with open(outcome.directory / "logs" / "version_0" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for row in rows:
        assert all(math.isfinite(float(row[k])) for k in ("train_d_loss", "train_g_loss"))
    batches = math.ceil(1077 / cfg.trainer.batch_size)  # digits' training split
    assert outcome.result["metrics"]["steps"] == 2 * (batches + batches)  # one D, one G step


def test_wgan_gp_steps_the_generator_after_every_n_critic_critic_steps(tmp_path):
    cfg = tiny_config("gan", "digits", "model.loss=wgan-gp", "trainer.max_epochs=1")
    outcome = run(cfg, tmp_path)
    batches = math.ceil(1077 / cfg.trainer.batch_size)
    assert outcome.result["metrics"]["steps"] == batches + batches // 5


def test_a_non_finite_loss_is_caught_by_the_divergence_guard():
    cfg = tiny_config("gan")
    data = load_dataset(cfg)
    model = build_model(cfg, data)
    with torch.no_grad():
        model.discriminator.net[-1].bias.fill_(float("nan"))
    trainer = pl.Trainer(
        max_steps=4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[DivergenceGuard()],
    )
    with pytest.raises(Diverged):
        trainer.fit(model, datamodule=TensorDataModule(data, 64, 1000, seed=0))


def test_n_critic_below_one_is_refused():
    with pytest.raises(GenbenchError, match=r"model\.n_critic=0 is not valid"):
        tiny_config("gan", "digits", "model.n_critic=0")
