"""The generative scorecard: the same metrics, computed the same way, for every generative model.

A metric that does not apply to a model (a likelihood for a GAN) is absent, never zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genbench.config import EvalConfig
from genbench.data.base import Dataset
from genbench.evaluation.images import save_grid
from genbench.evaluation.likelihood import likelihood_metrics, reconstruction_metrics


@torch.no_grad()
def score_generative(
    model, data: Dataset, cfg: EvalConfig, seed: int, out_dir: Path | None = None
) -> dict[str, Any]:
    """Score a trained model on the test split; write samples.png and reconstructions.png.

    Evaluation draws its own random numbers from `seed`, so a resumed run scores the same.
    """
    model.eval()
    device = model.device
    torch.manual_seed(seed)
    x = data.test.x.to(device)
    metrics: dict[str, Any] = {"params": sum(p.numel() for p in model.parameters())}
    if model.likelihood != "none":
        metrics.update(likelihood_metrics(model, x, cfg.iwae_k, cfg.batch_size, data.entropy_bpd))
    metrics.update(reconstruction_metrics(model, x, cfg.batch_size))

    generator = torch.Generator(device=device).manual_seed(seed)
    samples = model.sample(cfg.n_samples, generator=generator)
    if out_dir is not None and len(data.spec.shape) == 3:
        levels = data.spec.num_levels
        save_grid(samples, levels, out_dir / "samples.png", cfg.grid_rows)
        if hasattr(model, "reconstruct"):  # rows alternate: test images, their reconstructions
            cols = max(1, cfg.n_samples // max(2, cfg.grid_rows))
            row_pairs = min(max(1, cfg.grid_rows // 2), len(x) // cols)
            originals = x[: row_pairs * cols]
            pairs = torch.stack([originals, model.reconstruct(originals)])  # (2, m, *shape)
            pairs = pairs.unflatten(1, (-1, cols)).transpose(0, 1).flatten(0, 2)  # (2m, *shape)
            save_grid(pairs, levels, out_dir / "reconstructions.png", 2 * row_pairs)
    return metrics
