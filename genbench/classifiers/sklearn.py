"""scikit-learn's classifiers, built from genbench presets: genbench only supplies parameters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sklearn.calibration import CalibratedClassifierCV
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from genbench.classifiers.base import ClassifierFamily
from genbench.classifiers.naive_bayes import CategoricalNaiveBayes
from genbench.constraints import Annotated, Field, NonNegativeFloat, PositiveFloat, PositiveInt
from genbench.data.base import DataSpec
from genbench.errors import GenbenchError

if TYPE_CHECKING:
    from genbench.config import RunConfig


class NaiveBayes(ClassifierFamily):
    """Naive Bayes: features independent given the class; the variant picks their distribution
    (scikit-learn's, except categorical: genbench's own, classifiers/naive_bayes.py)."""

    scale_inputs = False  # Gaussian NB does not depend on scale; multinomial needs counts

    @dataclass
    class Config:
        variant: Literal["gaussian", "multinomial", "bernoulli", "categorical"]
        alpha: NonNegativeFloat  # additive smoothing (multinomial, bernoulli, categorical)
        binarize: Annotated[float, Field(ge=0, le=1)]  # bernoulli: on above this share of the top
        var_smoothing: NonNegativeFloat  # gaussian: share of the largest variance added to all

    @classmethod
    def build(cls, cfg: RunConfig, spec: DataSpec, work_dir: Path | None = None):
        c = cfg.model
        if c.variant == "gaussian":
            return GaussianNB(var_smoothing=c.var_smoothing)
        if c.variant == "multinomial":
            return MultinomialNB(alpha=c.alpha)
        if spec.num_levels is None:
            raise GenbenchError(
                f"naive Bayes variant '{c.variant}' needs discrete data (levels); this dataset "
                "is continuous: use model.variant=gaussian or multinomial"
            )
        if c.variant == "bernoulli":
            return BernoulliNB(alpha=c.alpha, binarize=c.binarize * (spec.num_levels - 1))
        return CategoricalNaiveBayes(n_levels=spec.num_levels, alpha=c.alpha)


class LogReg(ClassifierFamily):
    """Multinomial logistic regression (L2-regularized, lbfgs)."""

    @dataclass
    class Config:
        C: PositiveFloat  # inverse regularization strength
        max_iter: PositiveInt

    @classmethod
    def build(cls, cfg: RunConfig, spec: DataSpec, work_dir: Path | None = None):
        return LogisticRegression(C=cfg.model.C, max_iter=cfg.model.max_iter)


class SVM(ClassifierFamily):
    """Support vector machine with an RBF kernel; probabilities by Platt scaling."""

    @dataclass
    class Config:
        C: PositiveFloat
        gamma: Literal["scale", "auto"] | PositiveFloat  # the RBF kernel's width

    @classmethod
    def build(cls, cfg: RunConfig, spec: DataSpec, work_dir: Path | None = None):
        gamma = cfg.model.gamma
        # Platt scaling on 5-fold cross-validated decision values, then one SVC fitted on all
        # the data: scikit-learn's replacement for SVC(probability=True)
        svc = SVC(C=cfg.model.C, gamma=gamma, kernel="rbf")
        return CalibratedClassifierCV(svc, method="sigmoid", ensemble=False)


class KNN(ClassifierFamily):
    """k nearest neighbours (Euclidean)."""

    @dataclass
    class Config:
        n_neighbors: PositiveInt
        weights: Literal["uniform", "distance"]

    @classmethod
    def build(cls, cfg: RunConfig, spec: DataSpec, work_dir: Path | None = None):
        return KNeighborsClassifier(n_neighbors=cfg.model.n_neighbors, weights=cfg.model.weights)


class LDA(ClassifierFamily):
    """Linear discriminant analysis: Gaussian classes sharing one covariance matrix."""

    @dataclass
    class Config:
        solver: Literal["svd", "lsqr", "eigen"]

    @classmethod
    def build(cls, cfg: RunConfig, spec: DataSpec, work_dir: Path | None = None):
        return LinearDiscriminantAnalysis(solver=cfg.model.solver)


class QDA(ClassifierFamily):
    """Quadratic discriminant analysis: a Gaussian per class, covariances shrunk toward identity."""

    @dataclass
    class Config:
        reg_param: Annotated[float, Field(ge=0, le=1)]  # shrinkage toward the identity

    @classmethod
    def build(cls, cfg: RunConfig, spec: DataSpec, work_dir: Path | None = None):
        return QuadraticDiscriminantAnalysis(reg_param=cfg.model.reg_param)
