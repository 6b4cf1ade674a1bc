"""Classifier wrappers against scikit-learn called directly: fit and predict seconds on the same
arrays, same hyperparameters, in one process, alternating; the ratio should be near 1.

    python benchmarks/classifiers.py [--dataset digits] [--repeats 7] [--out FILE.json]

The genbench side is what `genbench run` does: resolve the preset, build the estimator from the
registry, fit, predict_proba and predict. The direct side is the scikit-learn estimator a user
would write by hand.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from common import write_figures
from sklearn.calibration import CalibratedClassifierCV
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import BernoulliNB, CategoricalNB, GaussianNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from genbench.classifiers.base import features
from genbench.config import resolve
from genbench.registry import lookup
from genbench.runner import load_dataset

CASES = {
    "naive-bayes/gaussian": (["model.variant=gaussian"], lambda: GaussianNB()),
    "naive-bayes/multinomial": (["model.variant=multinomial"], lambda: MultinomialNB()),
    "naive-bayes/bernoulli": (["model.variant=bernoulli"], lambda: BernoulliNB(binarize=8.0)),
    "naive-bayes/categorical": (
        ["model.variant=categorical"],
        lambda: CategoricalNB(min_categories=17),
    ),
    "logreg": ([], lambda: LogisticRegression(max_iter=5000)),
    "svm": ([], lambda: CalibratedClassifierCV(SVC(), ensemble=False)),
    "knn": ([], lambda: KNeighborsClassifier(3)),
    "lda": ([], lambda: LinearDiscriminantAnalysis()),
    "qda": ([], lambda: QuadraticDiscriminantAnalysis(reg_param=0.9)),
}


def timed(estimator, x, y, x_test) -> tuple[float, float]:
    start = time.perf_counter()
    estimator.fit(x, y)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    estimator.predict_proba(x_test)
    estimator.predict(x_test)
    return fit, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/classifiers.json"))
    args = parser.parse_args()

    data = load_dataset(resolve("logreg", args.dataset))
    (xt, yt), (xv, yv) = features(data.train), features(data.val)
    x, y = np.concatenate([xt, xv]), np.concatenate([yt, yv])
    x_test, _ = features(data.test)
    rows = []
    for name, (overrides, direct) in CASES.items():
        model = name.split("/")[0]
        ours, theirs = [], []
        for repeat in range(args.repeats):
            cfg = resolve(model, args.dataset, 0, overrides)
            pair = [
                lambda cfg=cfg, model=model: timed(
                    lookup("model", model).load().build(cfg, data.spec), x, y, x_test
                ),
                lambda direct=direct: timed(direct(), x, y, x_test),
            ]
            if repeat % 2:  # alternate which goes first
                pair.reverse()
            first, second = (run() for run in pair)
            (ours if repeat % 2 == 0 else theirs).append(first)
            (theirs if repeat % 2 == 0 else ours).append(second)
        fit_g, fit_s = (
            statistics.median(t[0] for t in ours),
            statistics.median(t[0] for t in theirs),
        )
        pred_g, pred_s = (
            statistics.median(t[1] for t in ours),
            statistics.median(t[1] for t in theirs),
        )
        rows.append(
            {
                "classifier": name,
                "genbench_fit_s": fit_g,
                "sklearn_fit_s": fit_s,
                "fit_ratio": fit_g / fit_s,
                "genbench_predict_s": pred_g,
                "sklearn_predict_s": pred_s,
                "predict_ratio": pred_g / pred_s,
            }
        )
        print(
            f"{name:24s} fit {fit_g * 1e3:7.2f} ms vs {fit_s * 1e3:7.2f} ms ({fit_g / fit_s:.2f}x) "
            f"predict {pred_g * 1e3:7.2f} ms vs {pred_s * 1e3:7.2f} ms ({pred_g / pred_s:.2f}x)"
        )
    figures = {
        "benchmark": "classifiers",
        "dataset": args.dataset,
        "n_fit": len(x),
        "n_predict": len(x_test),
        "repeats": args.repeats,
        "rows": rows,
    }
    write_figures(args.out, figures)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
