"""The generative scorecard: the same metrics, computed the same way, for every generative model.

Likelihood (where the model has one), reconstruction (where it has an encoder), sample quality in
the dataset's feature space against the test split, memorization, and cost. A metric that does
not apply to a model (a likelihood for a GAN) is absent, never zero.
"""

from __future__ import annotations

import inspect
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from genbench.data.base import Dataset
from genbench.evaluation.features import FeatureSpace
from genbench.evaluation.images import save_grid
from genbench.evaluation.likelihood import likelihood_metrics, reconstruction_metrics
from genbench.evaluation.sample_quality import (
    classifier_score,
    density_coverage,
    frechet_distance,
    kernel_distance,
    memorization,
    nearest,
    precision_recall,
)
from genbench.levels import levels_to_unit
from genbench.progress import QUIET, Phases, Progress, part


class EvalSettings(Protocol):
    """What scoring reads: genbench.config.EvalConfig, or any object with these (the evaluation
    layer does not depend on how configs are read)."""

    iwae_k: int
    batch_size: int  # examples x importance samples per forward pass
    n_samples: int  # samples in the grid
    grid_rows: int
    quality_samples: int  # 0: no sample quality
    likelihood_examples: int | None  # None: the whole test split


@torch.no_grad()
def score_generative(
    model,
    data: Dataset,
    cfg: EvalSettings,
    seed: int,
    out_dir: Path | None = None,
    space: FeatureSpace | None = None,
    phases: Phases = QUIET,
) -> dict[str, Any]:
    """Score a trained model on the test split; write samples.png, reconstructions.png and
    memorization.png for images, samples.txt for sequences (whose image metrics are skipped,
    `sample_quality_not_applicable` says so). Evaluation draws its random numbers from `seed`,
    so a resumed run scores the same. Sample quality needs a feature `space` and
    `eval.quality_samples` > 0. `phases` says what is being scored and how far it has got."""
    model.eval()
    device = model.device
    torch.manual_seed(seed)
    x = data.test.x.to(device)
    metrics: dict[str, Any] = {"params": sum(p.numel() for p in model.parameters())}
    x_scored = x  # what the likelihood and the reconstruction average over
    if model.likelihood != "none":
        x_scored = x[: cfg.likelihood_examples]  # the first N: no split is sorted by class
        detail = f"{model.log_prob_kind}, {len(x_scored)} test examples"
        with phases.phase("likelihood", detail) as progress:
            metrics.update(
                likelihood_metrics(
                    model, x_scored, cfg.iwae_k, cfg.batch_size, data.entropy_bpd, progress
                )
            )
        metrics["bpd_n"] = len(x_scored)  # of the test split's len(x)
        metrics["test_examples"] = len(x)
        metrics |= sequence_likelihood(metrics["bpd"], len(x_scored), data)
    # on the likelihood's examples: the VAE's recon_bpd is a term of its bound, so they compare
    if hasattr(model, "reconstruct") or hasattr(model, "reconstruction_log_prob"):
        with phases.phase("reconstruction", f"{len(x_scored)} test examples"):
            metrics.update(reconstruction_metrics(model, x_scored, cfg.batch_size))

    images = len(data.spec.shape) == 3
    quality = space is not None and cfg.quality_samples > 0 and images
    if not images and cfg.quality_samples > 0:
        metrics["sample_quality_not_applicable"] = SEQUENCE_QUALITY
    generator = torch.Generator(device=device).manual_seed(seed)
    n = max(cfg.quality_samples if quality else 0, cfg.n_samples)
    synchronize(device)
    started = time.perf_counter()
    with phases.phase("sampling", f"drawing {n} samples") as progress:
        samples = draw(model, n, generator, progress)
    synchronize(device)
    metrics["samples_per_second"] = n / (time.perf_counter() - started)
    samples = samples.cpu()
    if quality:
        detail = f"{cfg.quality_samples} samples against {len(x)} test images in {space.id}"
        with phases.phase("sample quality", detail):
            metrics.update(sample_quality(samples[: cfg.quality_samples], data, space, seed))
            if out_dir is not None:
                path = out_dir / "memorization.png"
                save_closest_pairs(samples[: cfg.quality_samples], data, path)
    if out_dir is not None and images:
        save_grids(model, samples[: cfg.n_samples], x, data, cfg, out_dir)
    if out_dir is not None and data.decode is not None:
        save_text(samples[: cfg.n_samples], data.decode, out_dir / "samples.txt")
    return metrics


SAMPLES_PER_CALL = 500  # samples drawn per call of model.sample


def draw(model, n: int, generator: torch.Generator, progress: Progress | None = None) -> Tensor:
    """(n, *shape) samples, SAMPLES_PER_CALL per call of model.sample. `progress` is told of
    each step of the model's sampling loop where its `sample` takes a `progress` (a DDPM's
    steps, an autoregressive model's positions), else of each call."""
    calls = range(0, n, SAMPLES_PER_CALL)
    stepwise = "progress" in inspect.signature(model.sample).parameters
    batches = []
    for index, start in enumerate(calls):
        size = min(SAMPLES_PER_CALL, n - start)
        if stepwise:
            told = part(progress, index, len(calls))
            batches.append(model.sample(size, generator=generator, progress=told))
        else:
            batches.append(model.sample(size, generator=generator))
            if progress is not None:
                progress(start + size, n)
    return torch.cat(batches)


SEQUENCE_QUALITY = (
    "FD, KD, precision/recall, density/coverage and memorization are measured on images only"
)


def sequence_likelihood(bpd: float, n: int, data: Dataset) -> dict[str, float]:
    """For sequences: the true entropy rate (bits per token in the long run) where the dataset
    knows it, and bits per byte where it knows the UTF-8 bytes of its test examples: the
    model's total bits on the first n test examples (bpd D n) over their bytes."""
    metrics: dict[str, float] = {}
    if data.entropy_rate_bits is not None:
        metrics["entropy_rate_bpc"] = data.entropy_rate_bits
    if data.test_bytes is not None:
        metrics["bits_per_byte"] = bpd * data.spec.dim * n / int(data.test_bytes[:n].sum())
    return metrics


def save_text(samples: Tensor, decode: Callable[[Tensor], str], path: Path) -> None:
    """samples.txt: each sample (n, T) decoded to text, one per line; a backslash and a line
    break inside a sample are written \\\\, \\n and \\r, so lines and samples are one to one."""
    escapes = {"\\": "\\\\", "\n": "\\n", "\r": "\\r"}
    lines = [decode(x).translate(str.maketrans(escapes)) for x in samples]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def sample_quality(
    samples: Tensor, data: Dataset, space: FeatureSpace, seed: int
) -> dict[str, Any]:
    """Fréchet and kernel distance, precision/recall, density/coverage and the classifier score
    of samples (n, *shape) against the test split in the feature space; memorization against
    the training split in pixel space."""
    fake, real = space.features(samples), space.features(data.test.x)
    metrics: dict[str, Any] = {"fd": frechet_distance(fake, real)}
    metrics["kd"], kd_std = kernel_distance(fake, real, seed=seed)
    if kd_std is not None:  # a spread only where the subsets differ
        metrics["kd_std"] = kd_std
    metrics |= knn_metrics(fake, real)
    probabilities = space.classify(samples)
    if probabilities is not None:
        metrics["classifier_score"] = classifier_score(probabilities)
    metrics |= memorization(
        pixels(samples, data), pixels(data.train.x, data), pixels(data.test.x, data)
    )
    metrics |= {"n_samples": len(samples), "feature_space": space.id}
    if space.test_accuracy is not None:
        metrics["feature_space_accuracy"] = space.test_accuracy
    return metrics


def knn_metrics(fake: Tensor, real: Tensor) -> dict[str, Any]:
    """Precision, recall, density and coverage; those that do not apply (duplicates make a
    k-NN radius 0: bars in pixel space) are absent, and `knn_not_applicable` says why."""
    values = precision_recall(fake, real) | density_coverage(fake, real)
    metrics: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
    reasons = []
    for names, whose in (
        (["precision", "density", "coverage"], "real examples"),
        (["recall"], "samples"),
    ):
        absent = [name for name in names if values[name] is None]
        if absent:
            reasons.append(
                f"{', '.join(absent)}: exact duplicates among the {whose} make a k-NN radius 0"
            )
    if reasons:
        metrics["knn_not_applicable"] = "; ".join(reasons)
    return metrics


def reference_quality(
    data: Dataset, space: FeatureSpace, n: int, seed: int
) -> dict[str, dict[str, Any]]:
    """The same metrics for real training images (the best a model can honestly do; their
    memorized_fraction is 1, unless a test image equals a training image, as on bars: then 0)
    and for uniform noise over the levels (the worst), each n examples against the test split."""
    generator = torch.Generator().manual_seed(seed)
    train = data.train.x[torch.randperm(len(data.train), generator=generator)[:n]]
    shape = (n, *data.spec.shape)
    noise = torch.randint(data.spec.num_levels, shape, generator=generator, dtype=torch.uint8)
    return {
        "train": sample_quality(train, data, space, seed),
        "noise": sample_quality(noise, data, space, seed),
    }


def pixels(x: Tensor, data: Dataset) -> Tensor:
    """Levels (n, *shape) -> (n, D) in [0, 1]."""
    return levels_to_unit(x.float().flatten(1), data.spec.num_levels)


def save_closest_pairs(samples: Tensor, data: Dataset, path: Path, pairs: int = 8) -> None:
    """The `pairs` samples (n, *shape) nearest to a training image, closest first, each above
    its nearest training image, with the Euclidean distance between them (pixels in [0, 1])."""
    distance, index = nearest(pixels(samples, data), pixels(data.train.x, data))
    closest = distance.argsort()[:pairs]
    grid = torch.cat([samples[closest], data.train.x[index[closest]]])
    captions = ["sample", "nearest training image"]
    footer = ("L2 distance", [f"{d:.2f}" for d in distance[closest].tolist()])
    save_grid(grid, data.spec.num_levels, path, 2, captions, footer)


def save_grids(
    model, samples: Tensor, x: Tensor, data: Dataset, cfg: EvalSettings, out_dir: Path
) -> None:
    """samples.png (samples (n, *shape)), and reconstructions.png of the first test images x
    (rows alternate: test images, their reconstructions; each row captioned)."""
    levels = data.spec.num_levels
    save_grid(samples, levels, out_dir / "samples.png", cfg.grid_rows)
    if hasattr(model, "reconstruct"):
        cols = max(1, cfg.n_samples // max(2, cfg.grid_rows))
        row_pairs = min(max(1, cfg.grid_rows // 2), len(x) // cols)
        originals = x[: row_pairs * cols]
        pairs = torch.stack([originals, model.reconstruct(originals)])  # (2, m, *shape)
        pairs = pairs.unflatten(1, (-1, cols)).transpose(0, 1).flatten(0, 2)  # (2m, *shape)
        captions = ["test image", "reconstruction"] * row_pairs
        save_grid(pairs.cpu(), levels, out_dir / "reconstructions.png", 2 * row_pairs, captions)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device: torch.device) -> dict[str, Any]:
    """Peak memory of the run: GPU memory allocated by torch on a GPU, else the process's peak
    resident set size (everything the process held, Python and libraries included)."""
    if device.type == "cuda":
        return {
            "peak_memory_mb": torch.cuda.max_memory_allocated(device) / 2**20,
            "peak_memory_kind": "cuda-allocated",
        }
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return {"peak_memory_mb": rss_kb / 1024, "peak_memory_kind": "process-rss"}
