import pytest
import torch

from genbench.nets.conv import Discriminator, Generator, resolution_stages


@pytest.mark.parametrize(
    ("size", "stages"), [((28, 28), 2), ((8, 8), 1), ((4, 4), 0), ((5, 5), 0), ((8, 12), 1)]
)
def test_resolution_stages_halve_while_even_and_at_least_four(size, stages):
    assert resolution_stages(*size) == stages


@pytest.mark.parametrize("shape", [(1, 4, 4), (1, 8, 8), (1, 28, 28), (3, 8, 12), (1, 5, 5)])
def test_networks_fit_the_image_shape(shape):
    torch.manual_seed(0)
    generator, discriminator = Generator(8, shape, 4), Discriminator(shape, 4)
    images = generator(torch.randn(3, 8))
    assert images.shape == (3, *shape)
    assert images.abs().max() <= 1  # tanh: the range real images are scaled to
    assert discriminator(images).shape == (3,)


def test_discriminator_scores_each_image_on_its_own():
    """No batch coupling: the gradient penalty is per example, and the GAN scores real and
    fake images in one concatenated batch."""
    torch.manual_seed(0)
    discriminator = Discriminator((1, 8, 8), 4)
    x = torch.randn(5, 1, 8, 8)
    one_by_one = torch.cat([discriminator(x[i : i + 1]) for i in range(5)])
    assert torch.allclose(discriminator(x), one_by_one, atol=1e-6)


def test_generator_in_eval_mode_maps_each_latent_on_its_own():
    torch.manual_seed(0)
    generator = Generator(8, (1, 28, 28), 4)
    generator(torch.randn(16, 8))  # one training-mode pass moves the batch-norm statistics
    generator.eval()
    z = torch.randn(4, 8)
    assert torch.allclose(generator(z)[:1], generator(z[:1]), atol=1e-6)
