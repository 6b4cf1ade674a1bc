"""Categorical naive Bayes over discrete features, written out in torch.

Features x_1..x_D, each a level in 0..L-1, are independent given the class y:

    p(x, y) = p(y) prod_d p(x_d | y),   p(x_d = l | y = c) = (N_cdl + alpha) / (N_c + alpha L)

with N_cdl the training examples of class c whose feature d is l (Lidstone smoothing; alpha = 1
is Laplace's). Prediction is Bayes' rule, p(y | x) = p(x, y) / sum_c p(x, c). It computes what
scikit-learn's CategoricalNB does (fit_prior=True, min_categories=L), and is the reference of the
naive-bayes teaching assignment, so these three functions are its tasks.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import Tensor


def fit(X: Tensor, y: Tensor, n_levels: int, n_classes: int, alpha: float) -> tuple[Tensor, Tensor]:
    """X (n, D) int levels in [0, L), y (n,) int classes in [0, C) -> class log-prior (C,) and
    feature log-probabilities (C, D, L): log p(y = c) = log N_c / n and
    log p(x_d = l | y = c) = log (N_cdl + alpha) - log (N_c + alpha L)."""
    onehot_x = torch.nn.functional.one_hot(X.long(), n_levels).to(torch.float64)  # (n, D, L)
    onehot_y = torch.nn.functional.one_hot(y.long(), n_classes).to(torch.float64)  # (n, C)
    counts = torch.einsum("nc,ndl->cdl", onehot_y, onehot_x)  # (C, D, L), N_cdl
    class_counts = onehot_y.sum(0)  # (C,), N_c
    feature_log_prob = torch.log(counts + alpha) - torch.log(class_counts + alpha * n_levels).view(
        -1, 1, 1
    )
    class_log_prior = torch.log(class_counts) - math.log(len(y))
    return class_log_prior, feature_log_prob


def joint_log_likelihood(X: Tensor, class_log_prior: Tensor, feature_log_prob: Tensor) -> Tensor:
    """log p(x, y = c) = log p(c) + sum_d log p(x_d | c) for X (n, D) int levels, class
    log-prior (C,) and feature log-probabilities (C, D, L) -> (n, C)."""
    C = feature_log_prob.size(0)
    index = X.long().unsqueeze(0).expand(C, -1, -1).transpose(1, 2)  # (C, D, n)
    per_feature = feature_log_prob.gather(2, index)  # (C, D, n), log p(x_d | c)
    return per_feature.sum(1).T + class_log_prior  # (n, C)


def predict_proba(jll: Tensor) -> Tensor:
    """Bayes' rule: p(c | x) = exp(jll_c - logsumexp_c jll), (n, C) -> (n, C), rows summing to
    1 and finite for joint log-likelihoods of any magnitude."""
    return torch.exp(jll - torch.logsumexp(jll, dim=1, keepdim=True))


class CategoricalNaiveBayes(ClassifierMixin, BaseEstimator):
    """scikit-learn estimator over the functions above: X (n, D) levels in [0, n_levels)."""

    def __init__(self, n_levels: int = 2, alpha: float = 1.0) -> None:
        self.n_levels = n_levels
        self.alpha = alpha

    def fit(self, X: np.ndarray, y: np.ndarray) -> CategoricalNaiveBayes:
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.n_features_in_ = np.asarray(X).shape[1]
        prior, log_prob = fit(
            self._levels(X), torch.as_tensor(codes), self.n_levels, len(self.classes_), self.alpha
        )
        self.class_log_prior_, self.feature_log_prob_ = prior, log_prob
        return self

    def _levels(self, X: np.ndarray) -> Tensor:
        levels = torch.as_tensor(np.asarray(X)).round().long()
        if levels.min() < 0 or levels.max() >= self.n_levels:
            raise ValueError(f"features must be levels in [0, {self.n_levels})")
        return levels

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        jll = joint_log_likelihood(self._levels(X), self.class_log_prior_, self.feature_log_prob_)
        return predict_proba(jll).numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]
