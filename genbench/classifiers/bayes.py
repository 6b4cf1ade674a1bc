"""Generative classifiers by Bayes' rule, over any registered generative model with a likelihood.

A class-conditional model p(x|y) is trained with the labels where the model supports it
(`model.conditional: true`: the VAE, the transformer, the RNN, the HMM, the flow), else one
model per class on that class's examples; the prior p(y) is the class frequency in the training
labels, and

    predict(x)       = argmax_y  log p(x|y) + log p(y)
    predict_proba(x) = softmax_y (log p(x|y) + log p(y))

with log p(x|y) the model's tightest estimate: exact for the transformer, the RNN and the HMM,
the IWAE bound for the VAE, the variational bound for DDPM, the dequantization bound for the
flow. This is scikit-learn's naive Bayes pattern (a joint log-likelihood per class), with a deep
generative model in place of the factorized one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_is_fitted,
    check_non_negative,
    column_or_1d,
    validate_data,
)

from genbench.classifiers.base import ClassifierFamily
from genbench.data.base import Dataset, DataSpec, Split
from genbench.data.loader import TensorDataModule
from genbench.errors import GenbenchError
from genbench.progress import Progress
from genbench.registry import lookup
from genbench.training import TrainerSettings, make_trainer, seeded

if TYPE_CHECKING:
    from genbench.config import EvalConfig, RunConfig


def chunk_seed(random_state: int, index: int) -> int:
    """The seed of the `index`-th chunk of examples: distinct chunks, independent draws."""
    return int(np.random.SeedSequence((random_state, index)).generate_state(1)[0])


def tightest(estimates: dict[str, torch.Tensor]) -> str:
    """The estimate of log p(x) to classify with: exact if there is one, else an IWAE bound
    (tighter than the ELBO), else the model's headline bound."""
    for kind in estimates:
        if kind == "exact" or kind.startswith("iwae"):
            return kind
    return next(iter(estimates))


class GenerativeClassifier(ClassifierMixin, BaseEstimator):
    """argmax_y log p(x|y) + log p(y) with a conditional generative `model`, or one per class,
    as a scikit-learn classifier.

    X is (n, features) of integer levels in [0, num_levels), viewed as `input_shape` images.
    `config` (the model's Config), `trainer` and `eval_config` are given, not read in `fit`;
    `GenerativeClassifier.from_preset(model)` builds one from the YAML presets. Each class
    model keeps the weights of its best validation epoch, on the `validation` data given to
    `fit`, else on a stratified `validation_fraction` of X. `random_state` determines the
    validation split, the initial weights, the batches and the importance samples; the global
    random state is left alone.
    """

    def __init__(
        self,
        model: str = "vae",
        input_shape: tuple[int, ...] | None = None,
        num_levels: int | None = None,
        config: Any = None,
        trainer: TrainerSettings | None = None,
        eval_config: EvalConfig | None = None,
        validation_fraction: float = 0.2,
        random_state: int = 0,
        work_dir: Path | None = None,
    ) -> None:
        self.model = model
        self.input_shape = input_shape
        self.num_levels = num_levels
        self.config = config
        self.trainer = trainer
        self.eval_config = eval_config
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.work_dir = work_dir

    @classmethod
    def from_preset(cls, model: str = "vae", overrides: tuple[str, ...] = (), **params: Any):
        """The estimator with the presets' parameters of `bayes-<model>` (its model's preset,
        the trainer and evaluation defaults), resolved now, with `section.key=value` overrides."""
        from genbench.config import resolve

        cfg = resolve(f"bayes-{model}", None, 0, overrides)
        return cls(model, config=cfg.model, trainer=cfg.trainer, eval_config=cfg.eval, **params)

    def _levels(self, X: Any, reset: bool) -> torch.Tensor:
        """X (n, D) -> (n, *input_shape) uint8 levels, validated the scikit-learn way and cast
        to integers like scikit-learn's CategoricalNB; a level out of range is an error."""
        if self.num_levels is None:
            raise GenbenchError("a generative classifier needs num_levels (discrete data)")
        X = validate_data(self, X, reset=reset, dtype="int")
        check_non_negative(X, type(self).__name__)
        if X.max(initial=0) >= self.num_levels:
            raise ValueError(f"X holds level {X.max()}; levels must lie in [0, {self.num_levels})")
        x = torch.as_tensor(X.astype(np.uint8))
        return x.view(len(x), *(self.input_shape or x.shape[1:]))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True  # levels
        return tags

    def fit(
        self, X: Any, y: Any, validation: tuple[Any, Any] | None = None
    ) -> GenerativeClassifier:
        if self.config is None or self.trainer is None or self.eval_config is None:
            raise ValueError(
                "GenerativeClassifier needs `config`, `trainer` and `eval_config`; "
                f"GenerativeClassifier.from_preset({self.model!r}) gives the presets'"
            )
        config, trainer_cfg = self.config, self.trainer
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(self.classes_) < 2:
            raise ValueError("a classifier needs at least 2 classes in y; got 1 class")
        self.class_log_prior_ = np.log(counts / counts.sum())
        if validation is None:
            X, X_val, codes, codes_val = train_test_split(
                X,
                codes,
                test_size=self.validation_fraction,
                random_state=self.random_state,
                stratify=codes,
            )
        else:
            X_val = validation[0]
            codes_val = np.searchsorted(self.classes_, np.asarray(validation[1]))
        train = Split(self._levels(X, reset=True), torch.as_tensor(codes))
        val = Split(self._levels(X_val, reset=False), torch.as_tensor(codes_val))
        spec = DataSpec(tuple(train.x.shape[1:]), self.num_levels, len(self.classes_))
        model_cls = lookup("model", self.model).load()

        self.conditional_ = bool(getattr(config, "conditional", False))
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(self.work_dir or tmp)
            if self.conditional_:  # one model p(x|y) for all classes, trained with the labels
                fitted = self._train(model_cls, spec, config, trainer_cfg, train, val, root, 0)
                self.models_ = [fitted]
            else:  # one model p(x) per class, trained on that class's examples
                self.models_ = []
                for code in range(len(self.classes_)):
                    train_c = Split(train.x[train.y == code], None)
                    val_c = Split(val.x[val.y == code], None)
                    if len(val_c) == 0:  # a class absent from validation selects on training
                        val_c = train_c
                    directory = root / f"class_{code}"
                    self.models_.append(
                        self._train(
                            model_cls, spec, config, trainer_cfg, train_c, val_c, directory, code
                        )
                    )
        self.n_parameters_ = sum(p.numel() for m in self.models_ for p in m.parameters())
        # which estimate classification uses, named once for the record
        with torch.no_grad(), seeded(self.random_state):
            probe = self._estimates(0, train.x[:1])
        self.likelihood_kind_ = tightest(probe)
        return self

    def _estimates(self, code: int, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Estimates of log p(x | class `code`), each (n,) nats."""
        generative = self.models_[0 if self.conditional_ else code]
        x = x.to(generative.device)
        k = self.eval_config.iwae_k
        if not self.conditional_:
            return generative.log_prob_estimates(x, k)
        label = torch.full((len(x),), code, dtype=torch.long, device=x.device)
        return generative.log_prob_estimates(x, k, label)

    def _train(
        self,
        model_cls: type,
        spec: DataSpec,
        config: Any,
        trainer_cfg: TrainerSettings,
        train: Split,
        val: Split,
        directory: Path,
        offset: int,
    ) -> Any:
        """One generative model trained by genbench's Trainer, with its best validation weights;
        seeded by random_state + offset, the caller's global random state left alone."""
        with seeded(self.random_state + offset):
            generative = model_cls(spec, config)
            trainer, best, _ = make_trainer(trainer_cfg, directory, monitor=generative.monitor)
            batches = TensorDataModule(
                Dataset("fit", spec, train, val, val),
                trainer_cfg.batch_size,
                4096,
                self.random_state,
            )
            trainer.fit(generative, datamodule=batches)
            if best.state_dict_ is not None:
                generative.load_state_dict(best.state_dict_)
            generative.eval()
            generative.after_training(train.to(generative.device))
        return generative

    @torch.no_grad()
    def joint_log_likelihood(self, X: Any, progress: Progress | None = None) -> np.ndarray:
        """(n, classes): log p(x|y) + log p(y) in nats, with the tightest likelihood estimate;
        `progress(done, total)` is told after each class's chunk of examples."""
        check_is_fitted(self)
        x = self._levels(X, reset=False)
        k = self.eval_config.iwae_k
        chunk = max(1, self.eval_config.batch_size // k)
        starts = range(0, len(x), chunk)
        columns = []
        for code in range(len(self.classes_)):
            parts = []
            for index, start in enumerate(starts):
                # the same random numbers for every class (importance samples, a DDPM's steps
                # and noise) and on every call: classes compare on the same draws, so the
                # noise of their difference is far below that of each estimate
                with seeded(chunk_seed(self.random_state, index)):
                    estimate = self._estimates(code, x[start : start + chunk])
                parts.append(estimate[self.likelihood_kind_].double().cpu())
                if progress is not None:
                    progress(code * len(starts) + index + 1, len(self.classes_) * len(starts))
            columns.append(torch.cat(parts))
        return torch.stack(columns, 1).numpy() + self.class_log_prior_

    def predict_log_proba(self, X: Any) -> np.ndarray:
        return log_normalized(self.joint_log_likelihood(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        best = self.joint_log_likelihood(X).argmax(1)
        return self.classes_[best]

    def predict_proba_and_labels(
        self, X: Any, progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """predict_proba(X) and predict(X) from one pass over the classes' likelihoods (each
        alone computes them all), with `progress` as joint_log_likelihood's."""
        joint = self.joint_log_likelihood(X, progress)
        return np.exp(log_normalized(joint)), self.classes_[joint.argmax(1)]


def log_normalized(joint: np.ndarray) -> np.ndarray:
    """(n, classes) joint log-likelihoods -> log p(y|x), normalized over the classes."""
    return joint - np.logaddexp.reduce(joint, axis=1, keepdims=True)


class BayesFamily(ClassifierFamily):
    """Registry entry of a generative classifier; `model` names the generative model and its
    Config is that model's (the presets inherit the model's own)."""

    model: ClassVar[str]
    uses_validation = True
    scale_inputs = False

    @classmethod
    def build(
        cls, cfg: RunConfig, spec: DataSpec, work_dir: Path | None = None
    ) -> GenerativeClassifier:
        if spec.num_levels is None:
            raise GenbenchError(
                f"bayes-{cls.model} models discrete data (levels); the dataset is continuous"
            )
        return GenerativeClassifier(
            cls.model,
            spec.shape,
            spec.num_levels,
            cfg.model,
            cfg.trainer,
            cfg.eval,
            random_state=cfg.seed,
            work_dir=work_dir,
        )


def bayes_family(model: str) -> type[BayesFamily]:
    """The registry entry of the generative classifier over `model`."""
    model_cls = lookup("model", model).load()
    if model_cls.likelihood == "none":
        raise GenbenchError(f"{model} has no likelihood: it cannot be a Bayes classifier")
    summary = f"Bayes' rule over {model} likelihoods p(x|y) ({model_cls.log_prob_kind} kind)"
    return type(
        f"Bayes_{model}",
        (BayesFamily,),
        {
            "model": model,
            "Config": model_cls.Config,
            "__doc__": summary,
            "needs_levels": True,
            "needs_images": model_cls.needs_images,
        },
    )


BayesVAE = bayes_family("vae")
BayesTransformer = bayes_family("transformer")
BayesDDPM = bayes_family("ddpm")
BayesRNN = bayes_family("rnn")
BayesHMM = bayes_family("hmm")
BayesFlow = bayes_family("flow")
