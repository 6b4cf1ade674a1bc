import math

import numpy as np
import pytest
import torch

from genbench.data.base import DataSpec
from genbench.errors import GenbenchError
from genbench.models.flow import Flow, diagonal_normal_log_prob
from genbench.nets.flow import affine_coupling, checkerboard_mask, squeeze, unsqueeze
from genbench.runner import run
from tests.conftest import tiny_config


def make_flow(shape, num_levels, seed=0, noise=0.05, **settings):
    """A small float64 flow in eval mode with actnorm initialized on random data and every
    parameter moved off its initial value (zero-initialized couplings would be the identity)."""
    torch.manual_seed(seed)
    classes = settings.pop("classes", None)  # a conditional flow over this many classes
    config = dict(
        scales=1, couplings=2, hidden=8, blocks=1, invconv=False, dropout=0.0, logit_alpha=0.05,
        dequantization="uniform", dequant_couplings=2, lr=1e-3, lr_schedule="constant",
        weight_decay=0.0, conditional=classes is not None,
    )  # fmt: skip
    flow = Flow(DataSpec(shape, num_levels, classes), Flow.Config(**{**config, **settings}))
    flow = flow.double().train()
    flow.log_density(torch.rand(16, *shape, dtype=torch.float64) * num_levels)  # actnorm init
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(noise * torch.randn_like(p))
    return flow.eval()


@pytest.mark.parametrize(("scales", "invconv"), [(1, False), (2, True), (3, False), (3, True)])
def test_the_transform_inverts_in_float64(scales, invconv):
    """v -> z -> v and z -> v -> z for the whole transform (scaling, logit, flow)."""
    flow = make_flow((2, 8, 8), 17, scales=scales, invconv=invconv)
    v = torch.rand(5, 2, 8, 8, dtype=torch.float64) * 17
    z = torch.randn(5, 2 * 64, dtype=torch.float64)
    with torch.no_grad():
        z_of_v, logdet = flow.to_latent(v)
        assert (flow.from_latent(z_of_v) - v).abs().max() < 1e-10
        assert (flow.to_latent(flow.from_latent(z))[0] - z).abs().max() < 1e-10
        assert (logdet - flow.to_latent(v / 2)[1]).abs().min() > 0.1  # not a linear map


def test_mnist_sized_images_take_three_scales_and_sample_levels():
    """28x28 -> squeeze 14x14 -> squeeze 7x7; the inverse holds there too."""
    flow = make_flow((1, 28, 28), 256, scales=3)
    v = torch.rand(2, 1, 28, 28, dtype=torch.float64) * 256
    with torch.no_grad():
        z, _ = flow.to_latent(v)
        assert z.shape == (2, 784) and (flow.from_latent(z) - v).abs().max() < 1e-10
        x = flow.sample(3, torch.Generator().manual_seed(0))
    assert x.shape == (3, 1, 28, 28) and x.min() >= 0 and x.max() <= 255
    assert x.float().std() > 10  # levels spread over the range, not one value


def test_squeeze_and_coupling_invert_and_the_coupling_keeps_its_masked_entries():
    x = torch.randn(3, 2, 4, 6, dtype=torch.float64)
    assert squeeze(x).shape == (3, 8, 2, 3)
    assert torch.equal(unsqueeze(squeeze(x)), x)
    assert torch.equal(squeeze(x)[:, 0::4, 0, 0], x[:, :, 0, 0])  # each patch's top left
    mask = checkerboard_mask(4, 6, 0).double()

    def net(kept):
        return torch.sin(kept.sum(1, keepdim=True) + 1), torch.cos(kept)

    y, logdet = affine_coupling(x, mask, net)
    back, logdet_back = affine_coupling(y, mask, net, inverse=True)
    assert torch.equal(y * mask, x * mask)
    assert (back - x).abs().max() < 1e-12 and torch.allclose(logdet_back, -logdet)


@pytest.mark.parametrize(("scales", "invconv"), [(1, True), (2, False), (2, True)])
def test_the_log_determinant_is_the_brute_force_jacobians(scales, invconv):
    """log|det dz/dv| of the whole transform v -> y = v/L -> logit -> flow -> z, on 1x4x4."""
    flow = make_flow((1, 4, 4), 5, scales=scales, invconv=invconv)
    v = torch.rand(3, 1, 4, 4, dtype=torch.float64) * 5
    _, logdet = flow.to_latent(v)
    for i in range(len(v)):
        jacobian = torch.autograd.functional.jacobian(
            lambda a: flow.to_latent(a.view(1, 1, 4, 4))[0][0], v[i].flatten()
        )  # (16, 16)
        sign, logabsdet = torch.linalg.slogdet(jacobian)
        assert sign != 0 and logabsdet.item() == pytest.approx(logdet[i].item(), abs=1e-9)


def test_variational_log_q_is_the_change_of_variables_of_its_noise():
    """log q(u|x) = log N(eps) - log|det du/deps| for the conditional dequantizing flow."""
    flow = make_flow((1, 4, 4), 3, dequantization="variational")
    x = torch.randint(0, 3, (2, 1, 4, 4))
    eps = torch.randn(2, 1, 4, 4, dtype=torch.float64)
    u, log_q = flow.dequantize(x, eps)
    assert ((u > 0) & (u < 1)).all()
    for i in range(len(x)):

        def noise(e, i=i):
            h = e.view(1, 1, 4, 4)
            for coupling in flow.dequantizer:
                h, _ = coupling(h, flow.to_unit(x[i : i + 1]) - 0.5)
            return torch.sigmoid(h).flatten()

        assert torch.allclose(noise(eps[i].flatten()), u[i].flatten())
        jacobian = torch.autograd.functional.jacobian(noise, eps[i].flatten())
        log_normal = -0.5 * (eps[i].pow(2) + math.log(2 * math.pi)).sum()
        expected = log_normal - torch.linalg.slogdet(jacobian)[1]
        assert log_q[i].item() == pytest.approx(expected.item(), abs=1e-9)


def exact_log_likelihood(flow, images, nodes=20):
    """log P(x) = log of the integral of p_V(x + u) over u in [0, 1)^D, and the bound's
    expectation E_u log p_V(x + u), both by Gauss-Legendre quadrature, for each image (n,)."""
    t, w = (torch.from_numpy(a) for a in np.polynomial.legendre.leggauss(nodes))
    t, w = (t + 1) / 2, w / 2  # nodes and weights on [0, 1]
    d = images[0].numel()
    grid = torch.cartesian_prod(*[t] * d)  # (nodes^D, D)
    log_weight = torch.log(torch.cartesian_prod(*[w] * d)).sum(1)  # (nodes^D,)
    exact, expected = [], []
    with torch.no_grad():
        for x in images:
            log_p = flow.log_density(x.double() + grid.view(-1, *x.shape))
            exact.append(torch.logsumexp(log_p + log_weight, 0))
            expected.append((log_p * log_weight.exp()).sum())
    return torch.stack(exact), torch.stack(expected)


PAIRS = torch.cartesian_prod(torch.arange(3), torch.arange(3)).view(9, 1, 1, 2)  # 1x2, 3 levels


def draws(flow, x, k, repeats):
    """Mean over `repeats` independent estimates log_prob(x, k), (n,)."""
    with torch.no_grad():
        return flow.log_prob(x.repeat(repeats, 1, 1, 1), k).view(repeats, len(x)).mean(0)


def test_uniform_dequantization_bound_lies_below_the_exact_discrete_log_likelihood():
    """On 1x2 images of 3 levels (all 9 of them) the discrete P(x), p_V integrated over x's cell,
    of a random flow is computed by quadrature: its mass is at most 1; the bound (one u per
    example) averages to the quadrature's E_u log p_V(x + u) and lies below log P(x) (Jensen);
    and log mean_k p_V(x + u_k) over many u_k recovers log P(x): the density is normalized."""
    flow = make_flow((1, 1, 2), 3, noise=0.2)
    exact, expected = exact_log_likelihood(flow, PAIRS)
    assert 0.9 < exact.exp().sum().item() <= 1.0  # a discrete distribution, mass outside lost
    torch.manual_seed(0)
    bound = draws(flow, PAIRS, 1, 4000)
    assert torch.allclose(bound, expected, atol=0.06)  # Monte Carlo error of 4000 draws
    assert (expected < exact).all() and (exact - expected).max() > 0.5
    assert torch.allclose(draws(flow, PAIRS, 10000, 1), exact, atol=0.03)


def test_variational_dequantization_estimates_lie_below_and_tighten_with_k():
    """Flow++'s q(u|x) (random here): the one-sample bound lies below log P(x), and the
    importance-weighted estimate with K = 100 lies between them (means over repeated estimates;
    with a q this poor its weights are heavy-tailed, so K = 10 and 100 are not told apart)."""
    flow = make_flow((1, 1, 2), 3, dequantization="variational", noise=0.2)
    exact, _ = exact_log_likelihood(flow, PAIRS)
    torch.manual_seed(0)
    bound, iw_100 = draws(flow, PAIRS, 1, 2000), draws(flow, PAIRS, 100, 20)
    assert (bound < iw_100 - 0.1).all() and (iw_100 < exact).all()
    assert flow.log_prob_estimates(PAIRS, 7).keys() == {"dequantized-iw-7"}


def test_too_many_scales_for_the_image_is_refused():
    with pytest.raises(
        GenbenchError, match=r"model.scales=4 is not valid for 8x8 images.*at most 3"
    ):
        make_flow((1, 8, 8), 17, scales=4)


def test_flow_on_bars_never_beats_the_entropy(tmp_path):
    """The dequantized bound on test bars, after a short training, is at least the true entropy
    (less 3 standard errors of the test mean) and it has learned something (a coin per pixel
    is 1 bit/dim; this reaches about 0.86)."""
    sets = ("trainer.max_epochs=5", "trainer.batch_size=32", "model.lr=0.005")
    sets += ("data.n_train=500", "data.n_val=100")
    m = run(tiny_config("flow", "bars", *sets), tmp_path).result["metrics"]
    assert m["bpd_kind"] == "dequantized"
    assert m["entropy_gap"] >= -3 * m["bpd_se"]
    assert m["bpd"] < 0.95


def test_the_class_base_is_a_diagonal_normal_as_torch_distributions_has_it():
    z, mean, log_scale = torch.randn(3, 5, 6, dtype=torch.float64).unbind(0)
    expected = torch.distributions.Normal(mean, log_scale.exp()).log_prob(z).sum(1)
    assert torch.allclose(diagonal_normal_log_prob(z, mean, log_scale), expected)


def test_a_conditional_flow_without_labels_is_the_mixture_of_its_classes():
    """p_V(v) = sum_y p(y) p_V(v|y) at every point (the same bijection, a Gaussian per class),
    so the marginal is exact and a bound from one u is a bound for every class; samples of a
    class come from its own base."""
    flow = make_flow((1, 4, 4), 5, classes=2)  # base parameters moved off zero by make_flow
    with torch.no_grad():
        flow.class_log_prior.copy_(torch.tensor([0.3, 0.7], dtype=torch.float64).log())
        v = torch.rand(6, 1, 4, 4, dtype=torch.float64) * 5
        given = [flow.log_density(v, torch.full((6,), y)) for y in (0, 1)]
        mixture = torch.logsumexp(torch.stack(given) + flow.class_log_prior[:, None], 0)
        assert torch.allclose(flow.log_density(v), mixture)
        assert not torch.allclose(given[0], given[1])  # the class changes the density
        flow.prior_mean.weight[1] = 50.0  # class 1's base far off: its samples saturate
        labels = torch.tensor([0, 1]).repeat(100)
        x = flow.sample(200, torch.Generator().manual_seed(0), labels).flatten(1).float()
    assert (x[labels == 1] == 4).float().mean() > 0.95  # the top level, as sigmoid(~50) says
    assert x[labels == 0].mean() < 3.0  # class 0 (base near N(0, I)) spreads over the levels


def test_bayes_flow_can_train_one_conditional_flow_for_all_classes():
    from genbench.classifiers.base import features
    from genbench.classifiers.bayes import GenerativeClassifier
    from genbench.config import resolve
    from genbench.runner import load_dataset
    from tests.conftest import QUICK, TINY

    overrides = (*TINY["flow"], *QUICK, "model.conditional=true", "trainer.max_epochs=2")
    clf = GenerativeClassifier.from_preset("flow", overrides, input_shape=(1, 8, 8), num_levels=17)
    x, y = features(load_dataset(resolve("bayes-flow", "digits")).train)
    clf.fit(x[:300], y[:300])
    assert clf.conditional_ and len(clf.models_) == 1  # one flow, not one per class
    proba = clf.predict_proba(x[300:340])
    assert proba.shape == (40, 10) and np.allclose(proba.sum(1), 1.0)
    assert (clf.predict(x[300:340]) == y[300:340]).mean() > 0.2  # chance: 0.1
