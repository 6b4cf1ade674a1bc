import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal

from genbench.data.base import DataSpec
from genbench.models.vae import VAE
from genbench.runner import load_dataset, run
from tests.conftest import tiny_config

SPEC = DataSpec((1, 2, 2), num_levels=2, num_classes=None)
ALL_IMAGES = torch.tensor([[(c >> i) & 1 for i in range(4)] for c in range(16)]).view(16, 1, 2, 2)


def make_vae(latent_dim=1, seed=0):
    """A small untrained VAE whose decoder depends strongly on z (weights scaled up), so that
    q(z|x) is a poor posterior and the bounds lie far apart."""
    torch.manual_seed(seed)
    config = VAE.Config(
        latent_dim=latent_dim,
        hidden=16,
        layers=1,
        dropout=0.0,
        decoder="auto",
        conditional=False,
        lr=1e-3,
        weight_decay=0.0,
    )
    vae = VAE(SPEC, config).double().eval()
    with torch.no_grad():
        for p in vae.decoder.parameters():
            p.mul_(4.0)
    return vae


def exact_log_prob(vae, x, nodes=200):
    """log p(x) = log of the integral of p(x|z) N(z; 0, 1) dz (1-d z), by Gauss-Hermite."""
    z, w = (torch.from_numpy(a) for a in np.polynomial.hermite_e.hermegauss(nodes))
    params = vae.decode(z.view(-1, 1))  # (nodes, D, 1)
    log_px_z = torch.stack(
        [vae.output.log_prob(params, xi.flatten().expand(nodes, -1)) for xi in x]
    )
    log_w = torch.log(w / math.sqrt(2 * math.pi))  # weights of the standard normal
    return torch.logsumexp(log_px_z + log_w, dim=1)


def test_log_weights_are_the_textbook_densities():
    vae = make_vae(latent_dim=3)
    x = ALL_IMAGES[:5]
    torch.manual_seed(1)
    log_w, log_px_z = vae.log_weights(x, 2)
    torch.manual_seed(1)
    mu, logvar = vae.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn((2, *mu.shape), dtype=mu.dtype)
    log_q = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    log_p = Normal(0.0, 1.0).log_prob(z).sum(-1)
    assert torch.allclose(log_w, log_px_z + log_p - log_q)


def test_decoder_normalizes_and_bounds_lie_below_exact_log_likelihood():
    vae = make_vae(latent_dim=1)
    with torch.no_grad():
        exact = exact_log_prob(vae, ALL_IMAGES)
        assert torch.logsumexp(exact, 0).item() == pytest.approx(0.0, abs=1e-6)  # sums to 1
        torch.manual_seed(0)
        bounds = vae.log_prob_estimates(ALL_IMAGES, 20000)
    elbo, iwae = bounds["elbo"], bounds["iwae-20000"]
    assert (iwae >= elbo).all()
    assert (elbo < exact).all()  # the ELBO gap here is large: an untrained encoder
    assert torch.allclose(iwae, exact, atol=0.02)  # IWAE tends to log p(x) as K grows


def test_iwae_tightens_with_k_toward_the_exact_value():
    vae = make_vae(latent_dim=1)
    torch.manual_seed(0)
    x = ALL_IMAGES.repeat(20, 1, 1, 1)
    with torch.no_grad():
        exact = exact_log_prob(vae, ALL_IMAGES).mean().item()
        means = [vae.log_prob_estimates(x, k)[f"iwae-{k}"].mean().item() for k in (1, 10, 100)]
    assert means[0] < means[1] < means[2] < exact


def test_one_sample_iwae_is_the_elbo():
    vae = make_vae(latent_dim=2)
    torch.manual_seed(3)
    bounds = vae.log_prob_estimates(ALL_IMAGES, 1)
    assert torch.allclose(bounds["elbo"], bounds["iwae-1"])


def test_vae_on_bars_pays_a_nonnegative_gap_that_iwae_shrinks(tmp_path):
    """Bars has a known entropy H. The test NLL is a mean over N i.i.d. test images of a model
    fitted without them, so its expectation is the cross-entropy H + KL >= H, and a bound only
    adds to it. A gap below -3 standard errors of that mean (p < 0.0013) would be a bug."""
    cfg = tiny_config("vae", "bars", "model.hidden=64", "trainer.max_epochs=40", "eval.iwae_k=100")
    result = run(cfg, tmp_path).result
    m = result["metrics"]
    assert m["entropy_bpd"] == pytest.approx(math.log2(30) / 16)
    assert m["entropy_gap"] >= -3 * m["bpd_se"]
    assert m["entropy_gap_iwae"] >= -3 * m["bpd_iwae_se"]
    assert m["bpd_iwae"] < m["bpd"]
    assert m["bpd"] < 1.0  # learned something: 1 bit/dim is a coin per pixel

    # IWAE bits/dim falls toward the entropy as K grows
    data = load_dataset(cfg)
    model = VAE(data.spec, cfg.model)
    state = torch.load(result_dir(tmp_path, cfg) / "checkpoints" / "best.ckpt", weights_only=True)
    model.load_state_dict(state["state_dict"])
    model.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        bpd = [
            model.nats_to_bpd(model.log_prob_estimates(data.test.x, k)[f"iwae-{k}"]).mean().item()
            for k in (1, 10, 100)
        ]
    assert bpd[0] > bpd[1] > bpd[2] >= data.entropy_bpd - 3 * m["bpd_iwae_se"]


def result_dir(out, cfg):
    return out / "runs" / cfg.run_id
