import math

import pytest
import torch

from genbench.data.base import DataSpec
from genbench.evaluation.likelihood import bits_per_dim, likelihood_metrics, reconstruction_metrics


class Uniform:
    """A model that puts mass 1/L on every level of every dimension: its bpd is log2(L) exactly."""

    likelihood = "exact"

    def __init__(self, spec: DataSpec):
        self.spec = spec

    def log_prob_estimates(self, x, num_samples):
        value = torch.full((len(x),), -self.spec.dim * math.log(self.spec.num_levels))
        return {"exact": value, f"iwae-{num_samples}": value - 1.0}

    def reconstruct(self, x):
        return (x + 1).clamp(max=self.spec.num_levels - 1)


def test_bits_per_dim_of_the_uniform_model_is_log2_levels():
    spec = DataSpec((1, 8, 8), num_levels=17, num_classes=None)
    x = torch.randint(0, 17, (30, 1, 8, 8))
    m = likelihood_metrics(Uniform(spec), x, num_samples=7, rows_per_pass=20, entropy_bpd=1.5)
    assert m["bpd"] == pytest.approx(math.log2(17))
    assert m["bpd_se"] == pytest.approx(0.0, abs=1e-9)
    assert m["bpd_kind"] == "exact"
    assert m["bpd_iwae_k"] == 7
    assert m["bpd_iwae"] == pytest.approx(math.log2(17) + 1 / (64 * math.log(2)))
    assert m["entropy_gap"] == pytest.approx(math.log2(17) - 1.5)


def test_bits_per_dim_is_nats_over_dims_and_ln2():
    assert bits_per_dim(torch.tensor([-64 * math.log(2)]), 64).item() == pytest.approx(1.0)


def test_reconstruction_mse_is_on_unit_scaled_levels():
    spec = DataSpec((1, 2, 2), num_levels=5, num_classes=None)
    x = torch.zeros(3, 1, 2, 2, dtype=torch.long)
    m = reconstruction_metrics(Uniform(spec), x, batch_size=2)
    assert m["recon_mse"] == pytest.approx((1 / 4) ** 2)  # every pixel off by one level of four
