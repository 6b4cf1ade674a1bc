"""What a registered classifier is to the runner: a preset Config and a scikit-learn estimator.

Every classifier, discriminative or generative, is used through the scikit-learn estimator
contract (fit / predict / predict_proba), so one scorecard serves them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from genbench.data.base import DataSpec, Split

if TYPE_CHECKING:
    from genbench.config import RunConfig


class ClassifierFamily:
    """A registered classifier: its parameters (`Config`) and how to build its estimator.

    uses_validation: the estimator selects a checkpoint or stops early on validation data, so it
    fits on the train split and is given the val split; otherwise it fits on train and val
    together (validation data would be wasted on it).
    scale_inputs: on continuous data (no levels), the runner standardizes the features first,
    for estimators whose answer depends on the features' scales.
    """

    Config: ClassVar[type]
    uses_validation: ClassVar[bool] = False
    scale_inputs: ClassVar[bool] = True  # standardize continuous features before fitting
    needs_levels: ClassVar[bool] = False  # discrete data only (genbench.registry.applies)
    needs_images: ClassVar[bool] = False  # examples must be (channels, height, width)

    @classmethod
    def build(cls, cfg: RunConfig, spec: DataSpec, work_dir: Path | None = None) -> Any:
        raise NotImplementedError


def features(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """A split as scikit-learn arrays: X (n, D) float64 (levels or feature values), y (n,)."""
    assert split.y is not None
    return split.x.flatten(1).double().cpu().numpy(), split.y.cpu().numpy()
