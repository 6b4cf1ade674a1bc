"""A trained or fitted run's RunResult: what its result.json holds."""

from __future__ import annotations

from typing import Any

from genbench.config import RunConfig
from genbench.data.base import Dataset
from genbench.environment import describe_device, versions
from genbench.registry import is_classifier
from genbench.results.record import RunResult


def run_result(
    cfg: RunConfig,
    data: Dataset,
    status: str,
    metrics: dict[str, Any],
    device: Any,
    timings: dict[str, float],
    resumed: bool,
) -> RunResult:
    return RunResult(
        run_id=cfg.run_id,
        model=cfg.model_name,
        dataset=cfg.dataset_name,
        seed=cfg.seed,
        status=status,
        kind="classifier" if is_classifier(cfg.model_name) else "generative",
        metrics=metrics,
        config=cfg.to_dict(),
        data_spec={
            "shape": list(data.spec.shape),
            "num_levels": data.spec.num_levels,
            "num_classes": data.spec.num_classes,
        },
        versions=versions(),
        device=describe_device(device),
        timings=timings,
        resumed=resumed,
    )
