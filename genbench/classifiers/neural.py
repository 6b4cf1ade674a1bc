"""Neural-network classifiers trained by Lightning's Trainer (the same one as the generative
models), exposed through the scikit-learn estimator contract."""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from torch import Tensor, nn

from genbench.classifiers.base import ClassifierFamily
from genbench.config import RunConfig, TrainerConfig, resolve
from genbench.constraints import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Probability,
)
from genbench.data.base import Dataset, DataSpec, Split
from genbench.data.loader import TensorDataModule
from genbench.errors import GenbenchError
from genbench.nets.cnn import CNN
from genbench.nets.mlp import MLP
from genbench.training import EpochLossLogging, make_trainer


class ClassifierModule(EpochLossLogging, pl.LightningModule):
    """Cross-entropy training of any network that maps inputs to class logits."""

    monitor: ClassVar[str] = "val_loss"

    def __init__(self, net: nn.Module, lr: float, weight_decay: float) -> None:
        super().__init__()
        self.net = net
        self.lr = lr
        self.weight_decay = weight_decay

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _common_step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)  # nats per example
        self.accumulate_loss(stage, loss, len(x))
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._common_step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._common_step(batch, "val")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


class NeuralClassifier(ClassifierMixin, BaseEstimator):
    """A multilayer perceptron or a small CNN (`arch`), as a scikit-learn classifier.

    X is (n, features): levels (scaled to [0, 1] with `num_levels`) or continuous features
    (used as given), viewed as `input_shape` for the CNN. `config` (the arch's Config) and
    `trainer` default to the YAML presets of configs/models/<arch>.yaml and
    configs/trainer/default.yaml. `fit` keeps the weights of the epoch with the best validation
    loss, on the `validation` data given, else on a stratified `validation_fraction` of X.
    """

    def __init__(
        self,
        arch: str = "mlp",
        input_shape: tuple[int, ...] | None = None,
        num_levels: int | None = None,
        config: Any = None,
        trainer: TrainerConfig | None = None,
        validation_fraction: float = 0.2,
        seed: int = 0,
        work_dir: Path | None = None,
    ) -> None:
        self.arch = arch
        self.input_shape = input_shape
        self.num_levels = num_levels
        self.config = config
        self.trainer = trainer
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.work_dir = work_dir

    def _inputs(self, X: Any) -> Tensor:
        x = torch.as_tensor(np.asarray(X, dtype=np.float32))
        if self.num_levels is not None:
            x = x / (self.num_levels - 1)
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
        preset = resolve(self.arch, None)
        config, trainer_cfg = self.config or preset.model, self.trainer or preset.trainer
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        if validation is None:
            X, X_val, codes, y_val = train_test_split(
                X, codes, test_size=self.validation_fraction, random_state=self.seed, stratify=codes
            )
        else:
            X_val, y_val = validation[0], np.searchsorted(self.classes_, np.asarray(validation[1]))
        train = Split(self._inputs(X), torch.as_tensor(codes))
        val = Split(self._inputs(X_val), torch.as_tensor(y_val))
        spec = DataSpec(tuple(train.x.shape[1:]), self.num_levels, len(self.classes_))

        pl.seed_everything(self.seed, verbose=False)
        net = self._net(config, spec.shape, len(self.classes_))
        module = ClassifierModule(net, config.lr, config.weight_decay)
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(self.work_dir or tmp)
            trainer, best, clock = make_trainer(trainer_cfg, directory, monitor=module.monitor)
            batches = TensorDataModule(
                Dataset("fit", spec, train, val, val), trainer_cfg.batch_size, 4096, self.seed
            )
            trainer.fit(module, datamodule=batches)
            if best.best_model_path:
                state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
                module.load_state_dict(state["state_dict"])
        self.module_ = module.cpu().eval()
        self.n_parameters_ = sum(p.numel() for p in module.parameters())
        self.train_seconds_ = clock.seconds
        return self

    @torch.no_grad()
    def predict_proba(self, X: Any) -> np.ndarray:
        x = self._inputs(X)
        logits = torch.cat([self.module_(x[i : i + 4096]) for i in range(0, len(x), 4096)])
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


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
            seed=cfg.seed,
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

    @dataclass
    class Config:
        channels: PositiveInt  # of the first block; doubled each block
        hidden: PositiveInt
        dropout: Probability
        lr: PositiveFloat
        weight_decay: NonNegativeFloat
