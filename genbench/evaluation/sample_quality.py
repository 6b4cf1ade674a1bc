"""Sample-quality metrics between generated samples and real data, in a feature space.

Each function takes features (n, d) (or pixels, flattened) and returns plain numbers, so the
same code scores a model, the training split (the best honest reference) and uniform noise
(the worst). Fréchet and kernel distances come from torchmetrics, fed features directly.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance


class _Features(nn.Module):
    """The identity, announcing its width: lets torchmetrics take features instead of images."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        return x


def frechet_distance(fake: Tensor, real: Tensor) -> float:
    """||mu_f - mu_r||^2 + Tr(S_f + S_r - 2 (S_f S_r)^(1/2)) between Gaussians fitted to two
    feature sets (n, d) (Heusel et al., 2017), via torchmetrics."""
    # sync_on_compute=False: the features are all here, even after a multi-process run
    metric = FrechetInceptionDistance(feature=_Features(real.shape[1]), sync_on_compute=False)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kernel_distance(
    fake: Tensor, real: Tensor, subsets: int = 100, seed: int = 0
) -> tuple[float, float | None]:
    """Squared MMD with the cubic polynomial kernel (Binkowski et al., 2018), mean and std over
    random subsets of the smaller set's size, via torchmetrics; subsets drawn from `seed`.
    The std is None when every subset is both whole sets (equal sizes, at most 1000): the
    subsets then differ only in order, and their spread is rounding noise, not a spread."""
    size = min(len(fake), len(real), 1000)
    with warnings.catch_warnings():  # it warns that it keeps the features: these are small
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(
            feature=_Features(real.shape[1]),
            subsets=subsets,
            subset_size=size,
            sync_on_compute=False,
        )
    metric.update(real.float(), real=True)  # float32: the kernel sums are O(n^2 d), 2x faster
    metric.update(fake.float(), real=False)
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        mean, std = metric.compute()
    finally:
        torch.set_rng_state(state)
    whole = size == len(fake) == len(real)
    return float(mean), None if whole else float(std)


def _kth_neighbour_radius(x: Tensor, k: int) -> Tensor:
    """(n,) distance of each row of x to its k-th nearest other row; exactly 0 for a row with
    k or more exact copies (cdist's matrix-product path can leave rounding noise there)."""
    distances = torch.cdist(x, x)
    radius = distances.kthvalue(k + 1, dim=1).values  # +1: the row itself is at distance 0
    _, inverse, counts = torch.unique(x, dim=0, return_inverse=True, return_counts=True)
    return torch.where(counts[inverse] > k, torch.zeros_like(radius), radius)


def precision_recall(fake: Tensor, real: Tensor, k: int = 3) -> dict[str, float | None]:
    """Improved precision and recall (Kynkäänniemi et al., 2019): the share of samples inside
    the real data's k-NN manifold, and of real data inside the samples' manifold. A ball is
    open (distance < radius), as in Naeem et al. (2020) and the prdc package. None: not
    applicable, because duplicates make some radius of the manifold 0 (an empty ball)."""
    real_radius, fake_radius = _kth_neighbour_radius(real, k), _kth_neighbour_radius(fake, k)
    distances = torch.cdist(fake, real)  # (n_fake, n_real)
    precision = (distances < real_radius.unsqueeze(0)).any(dim=1).float().mean()
    recall = (distances < fake_radius.unsqueeze(1)).any(dim=0).float().mean()
    return {
        "precision": float(precision) if (real_radius > 0).all() else None,
        "recall": float(recall) if (fake_radius > 0).all() else None,
    }


def density_coverage(fake: Tensor, real: Tensor, k: int = 5) -> dict[str, float | None]:
    """Density and coverage (Naeem et al., 2020): how many real k-NN balls a sample falls in,
    over k (about 1 when samples follow the data), and the share of real balls holding one.
    Open balls (distance < radius), as published; None where duplicates make a radius 0."""
    real_radius = _kth_neighbour_radius(real, k)
    if not (real_radius > 0).all():
        return {"density": None, "coverage": None}
    inside = torch.cdist(fake, real) < real_radius.unsqueeze(0)  # (n_fake, n_real)
    density = inside.float().sum() / (k * len(fake))
    coverage = inside.any(dim=0).float().mean()
    return {"density": float(density), "coverage": float(coverage)}


def classifier_score(probabilities: Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))), p(y) the mean prediction: the Inception Score with the
    domain classifier (Salimans et al., 2016). 1 for uninformative samples, up to the number of
    classes for confident, class-balanced ones."""
    p = probabilities.double().clamp_min(1e-12)
    marginal = p.mean(0, keepdim=True)
    kl = (p * (p.log() - marginal.log())).sum(1)
    return math.exp(float(kl.mean()))


def nearest(queries: Tensor, references: Tensor, batch: int = 2048) -> tuple[Tensor, Tensor]:
    """Distance (n,) and index (n,) of each query's nearest reference (rows, Euclidean)."""
    distance, index = [], []
    for i in range(0, len(queries), batch):
        d, j = torch.cdist(queries[i : i + batch], references).min(dim=1)
        distance.append(d)
        index.append(j)
    return torch.cat(distance), torch.cat(index)


def memorization(samples: Tensor, train: Tensor, test: Tensor) -> dict[str, float]:
    """Compare each sample's distance to its nearest training example with the same distance
    for held-out test examples (rows: pixels in [0, 1], flattened). A sample closer to the
    training data than every test example is suspiciously close: `memorized_fraction` is the
    share of such samples (about 0 for a model that generalizes)."""
    sample_distance, _ = nearest(samples, train)
    test_distance, _ = nearest(test, train)
    threshold = test_distance.min()
    return {
        "memorized_fraction": float((sample_distance < threshold).float().mean()),
        "nn_train_distance_samples": float(sample_distance.median()),
        "nn_train_distance_test": float(test_distance.median()),
    }
