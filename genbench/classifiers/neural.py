"""Neural-network classifiers trained by Lightning's Trainer (the same one as the generative
models), exposed through the scikit-learn estimator contract."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from torch import Tensor, nn

from genbench.classifiers.base import ClassifierFamily
from genbench.constraints import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Probability,
)
from genbench.data.base import Dataset, DataSpec, Split
from genbench.errors import GenbenchError
from genbench.levels import levels_to_unit
from genbench.nets.cnn import CNN
from genbench.nets.mlp import MLP
from genbench.training import TrainerSettings, train_classifier

if TYPE_CHECKING:
    from genbench.config import RunConfig


class NeuralClassifier(ClassifierMixin, BaseEstimator):
    """A multilayer perceptron or a small CNN (`arch`), as a scikit-learn classifier.

    X is (n, features): levels (scaled to [0, 1] with `num_levels`) or continuous features
    (used as given), viewed as `input_shape` for the CNN. `config` (the arch's Config) and
    `trainer` (genbench.training.TrainerSettings) are given, not read in `fit`:
    `NeuralClassifier.from_preset(arch)` builds one from the YAML presets. `fit` keeps the
    weights of the epoch with the best validation loss, on the `validation` data given, else on
    a stratified `validation_fraction` of X. `random_state` determines the validation split, the
    initial weights and the batches; the global random state is left alone.
    """

    def __init__(
        self,
        arch: str = "mlp",
        input_shape: tuple[int, ...] | None = None,
        num_levels: int | None = None,
        config: Any = None,
        trainer: TrainerSettings | None = None,
        validation_fraction: float = 0.2,
        random_state: int = 0,
        work_dir: Path | None = None,
    ) -> None:
        self.arch = arch
        self.input_shape = input_shape
        self.num_levels = num_levels
        self.config = config
        self.trainer = trainer
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.work_dir = work_dir

    @classmethod
    def from_preset(cls, arch: str = "mlp", overrides: tuple[str, ...] = (), **params: Any):
        """The estimator with the presets' parameters (configs/models/<arch>.yaml and the
        trainer defaults), resolved now, with `section.key=value` overrides."""
        from genbench.config import resolve

        cfg = resolve(arch, None, 0, overrides)
        return cls(arch, config=cfg.model, trainer=cfg.trainer, **params)

    def _inputs(self, X: Any, reset: bool) -> Tensor:
        """X (n, D) -> (n, *input_shape) float32, validated the scikit-learn way."""
        x = torch.as_tensor(validate_data(self, X, reset=reset, dtype=np.float32))
        if self.num_levels is not None:
            x = levels_to_unit(x, self.num_levels)
        return x.view(len(x), *(self.input_shape or x.shape[1:]))

    def _net(self, c: Any, shape: tuple[int, ...], classes: int) -> nn.Module:
        if self.arch == "cnn":
            if len(shape) != 3:
                raise GenbenchError(
                    f"cnn needs images (channels, height, width), not shape {shape}"
                )
            return CNN(shape, classes, c.channels, c.hidden, c.dropout)
        return nn.Sequential(
            nn.Flatten(), MLP(math.prod(shape), classes, c.hidden, c.layers, c.dropout)
        )

    def fit(self, X: Any, y: Any, validation: tuple[Any, Any] | None = None) -> NeuralClassifier:
        if self.config is None or self.trainer is None:
            raise ValueError(
                "NeuralClassifier needs `config` and `trainer`; "
                f"NeuralClassifier.from_preset({self.arch!r}) gives the presets'"
            )
        config = self.config
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("a classifier needs at least 2 classes in y; got 1 class")
        if validation is None:
            X, X_val, codes, y_val = train_test_split(
                X,
                codes,
                test_size=self.validation_fraction,
                random_state=self.random_state,
                stratify=codes,
            )
        else:
            X_val, y_val = validation[0], np.searchsorted(self.classes_, np.asarray(validation[1]))
        train = Split(self._inputs(X, reset=True), torch.as_tensor(codes))
        val = Split(self._inputs(X_val, reset=False), torch.as_tensor(y_val))
        spec = DataSpec(tuple(train.x.shape[1:]), self.num_levels, len(self.classes_))
        self.module_, self.train_seconds_ = train_classifier(
            lambda: self._net(config, spec.shape, len(self.classes_)),
            Dataset("fit", spec, train, val, val),
            config.lr,
            config.weight_decay,
            self.trainer,
            self.random_state,
            self.work_dir,
        )
        self.n_parameters_ = sum(p.numel() for p in self.module_.parameters())
        return self

    @torch.no_grad()
    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        x = self._inputs(X, reset=False)
        logits = torch.cat([self.module_(x[i : i + 4096]) for i in range(0, len(x), 4096)])
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        best = self.predict_proba(X).argmax(1)  # checks first that the estimator is fitted
        return self.classes_[best]


class NeuralFamily(ClassifierFamily):
    """Registry entry of a Lightning classifier; subclasses name the `arch` and its Config."""

    arch: ClassVar[str]
    uses_validation = True

    @classmethod
    def build(
        cls, cfg: RunConfig, spec: DataSpec, work_dir: Path | None = None
    ) -> NeuralClassifier:
        return NeuralClassifier(
            cls.arch,
            spec.shape,
            spec.num_levels,
            cfg.model,
            cfg.trainer,
            random_state=cfg.seed,
            work_dir=work_dir,
        )


class MLPClassifier(NeuralFamily):
    """Multilayer perceptron on the flattened input."""

    arch = "mlp"

    @dataclass
    class Config:
        hidden: PositiveInt
        layers: NonNegativeInt  # hidden layers; 0: a linear model
        dropout: Probability
        lr: PositiveFloat
        weight_decay: NonNegativeFloat


class CNNClassifier(NeuralFamily):
    """Small CNN: blocks of two 3x3 convolutions and a 2x2 max-pool, then an MLP head."""

    arch = "cnn"
    scale_inputs = False  # images only
    needs_images = True

    @dataclass
    class Config:
        channels: PositiveInt  # of the first block; doubled each block
        hidden: PositiveInt
        dropout: Probability
        lr: PositiveFloat
        weight_decay: NonNegativeFloat
