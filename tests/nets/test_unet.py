import pytest
import torch

from genbench.nets.unet import TimeEmbedding, UNet, fourier_features, timestep_embedding


@pytest.mark.parametrize(
    ("shape", "halvings"), [((1, 4, 4), 0), ((1, 8, 8), 1), ((1, 28, 28), 2), ((3, 16, 16), 2)]
)
def test_unet_maps_an_image_to_its_own_shape_with_depth_from_the_data(shape, halvings):
    torch.manual_seed(0)
    net = UNet(shape, num_levels=17, channels=8, dropout=0.0)
    assert len(net.downsample) == halvings and len(net.up) == halvings + 1
    x = torch.randn(3, *shape)
    assert net(x, torch.tensor([1, 5, 9])).shape == (3, *shape)


def test_unet_starts_at_zero_and_then_depends_on_the_step_and_on_every_pixel():
    torch.manual_seed(0)
    net = UNet((1, 8, 8), num_levels=17, channels=8, dropout=0.0)
    x = torch.randn(1, 1, 8, 8)
    assert torch.equal(net(x, torch.tensor([1])), torch.zeros_like(x))  # zero-initialized
    with torch.no_grad():
        for p in net.parameters():  # weights as training might leave them
            p.normal_(0.0, 0.2)
    assert not torch.allclose(net(x, torch.tensor([1])), net(x, torch.tensor([200])))
    x.requires_grad_(True)
    net(x, torch.tensor([3]))[0, 0, 0, 0].backward()  # a corner output sees the far corner
    assert x.grad[0, 0, 7, 7] != 0


def test_timestep_embedding_is_sin_and_cos_at_geometric_frequencies():
    emb = timestep_embedding(torch.tensor([0, 3]), 8)  # frequencies 10000^(-k/4), k = 0..3
    assert torch.equal(emb[0], torch.tensor([0.0, 0, 0, 0, 1, 1, 1, 1]))
    freqs = torch.tensor([10000.0 ** (-k / 4) for k in range(4)])
    assert torch.allclose(emb[1], torch.cat([torch.sin(3 * freqs), torch.cos(3 * freqs)]))


def test_time_embedding_computed_per_distinct_step_equals_per_row():
    torch.manual_seed(0)
    embed = TimeEmbedding(16)
    t = torch.tensor([5, 1, 5, 9, 1])
    assert torch.allclose(embed(t, torch.float32), embed.mlp(timestep_embedding(t, 16)), atol=1e-6)


def test_fourier_features_vanish_on_the_level_grid():
    """At the levels of L-level data on [-1, 1] the sine is 0 and the cosine 1; half-way between
    two levels the cosine is -1."""
    levels = torch.linspace(-1, 1, 17).view(1, 1, 17)
    features = fourier_features(levels, 17)
    assert features.shape == (1, 3, 17)
    assert torch.allclose(features[:, 1], torch.zeros(17), atol=1e-5)
    assert torch.allclose(features[:, 2], torch.ones(17))
    midway = fourier_features(levels[..., :-1] + 1 / 16, 17)
    assert torch.allclose(midway[:, 2], -torch.ones(16), atol=1e-5)
    assert torch.equal(fourier_features(levels, None), levels)
