"""The report's figures: training curves, the Pareto front of sample quality against training
time, data efficiency and reliability diagrams. Each returns False when it has nothing to draw."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

from genbench.results.store import warn_stderr

GENERATIVE_CLASSIFIERS = ("naive-bayes", "lda", "qda")  # beside bayes-*: they model p(x|y)
matplotlib.use("Agg")  # files only, no display


def panels(count: int, max_cols: int, size: tuple[float, float]) -> tuple[Any, np.ndarray]:
    """A figure with `count` subplots in rows of at most `max_cols`; spare panels hidden."""
    import matplotlib.pyplot as plt

    cols = min(max_cols, count)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.axis("off")
    return fig, axes


def save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def training_curves(
    runs: pd.DataFrame, path: Path, warn: Callable[[str], None] = warn_stderr
) -> bool:
    """Train and val loss per epoch of each variant's first seed, from Lightning's CSV logs;
    a damaged log is named by `warn` and left out."""

    curves = []
    for variant, group in runs.groupby("variant", sort=False):
        run = group.sort_values("seed").iloc[0]
        frames = []
        for log in sorted(Path(run["dir"]).glob("logs/version_*/metrics.csv")):
            try:
                frame = pd.read_csv(log)
                frame["epoch"] = pd.to_numeric(frame["epoch"], errors="raise")
            except (OSError, ValueError, KeyError, UnicodeDecodeError, pd.errors.ParserError) as e:
                warn(f"leaving out the training log {log}: {str(e).splitlines()[0][:80]}")
                continue
            frames.append(frame)
        if frames:
            curves.append((variant, pd.concat(frames).drop_duplicates("epoch", keep="last")))
    if not curves:
        return False
    fig, axes = panels(len(curves), 3, (4, 2.8))
    for ax, (variant, frame) in zip(axes.flat, curves, strict=False):
        for column in [c for c in frame.columns if c.endswith("_loss")]:
            points = frame[["epoch", column]].dropna()
            ax.plot(points["epoch"] + 1, points[column], label=column)
        ax.set_title(variant, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    save(fig, path)
    return True


def pareto_plot(summary: pd.DataFrame, references: pd.DataFrame, path: Path) -> bool:
    """FD against training time: the models no other beats on both are joined (the front)."""
    import matplotlib.pyplot as plt

    points = summary.dropna(subset=["fd", "train_seconds"]) if "fd" in summary else summary.iloc[:0]
    if len(points) < 2:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(points["train_seconds"], points["fd"])
    for variant, row in points.iterrows():
        ax.annotate(variant, (row["train_seconds"], row["fd"]), fontsize=8)
    ordered = points.sort_values("train_seconds")
    front, best = [], np.inf
    for _, row in ordered.iterrows():
        if row["fd"] < best:
            front.append((row["train_seconds"], row["fd"]))
            best = row["fd"]
    ax.plot(*zip(*front, strict=True), "r--", label="Pareto front")
    for _, ref in references.iterrows():
        if ref["model"] == "reference-train" and not pd.isna(ref.get("fd")):
            ax.axhline(ref["fd"], color="gray", linestyle=":", label="training images")
    ax.set_xscale("log")
    ax.set_xlabel("training seconds")
    ax.set_ylabel("FD (lower is better)")
    ax.legend(fontsize=8)
    save(fig, path)
    return True


def data_efficiency_plot(runs: pd.DataFrame, path: Path) -> bool:
    """Test accuracy against the number of training examples, generative classifiers dashed."""
    import matplotlib.pyplot as plt

    if runs["train_fraction"].nunique() < 2 or "n_train" not in runs:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    for variant, group in runs.groupby("variant", sort=False):
        stats = group.groupby("n_train")["accuracy"].agg(["mean", "std"]).reset_index()
        model = group["model"].iloc[0]
        generative = model.startswith("bayes-") or model in GENERATIVE_CLASSIFIERS
        ax.errorbar(stats["n_train"], stats["mean"], yerr=stats["std"].fillna(0), label=variant,
                    linestyle="--" if generative else "-", marker="o", capsize=2)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel("test accuracy")
    ax.set_title("generative (dashed) vs discriminative (solid)", fontsize=9)
    ax.legend(fontsize=7)
    save(fig, path)
    return True


def calibration_plot(
    runs: pd.DataFrame, path: Path, warn: Callable[[str], None] = warn_stderr
) -> bool:
    """Reliability diagrams: accuracy against confidence per bin, the diagonal is calibrated;
    a damaged calibration.json is named by `warn` and left out."""

    diagrams = []
    for variant, group in runs.groupby("variant", sort=False):
        file = Path(group.sort_values("seed").iloc[0]["dir"]) / "calibration.json"
        if not file.exists():
            continue
        try:
            bins = json.loads(file.read_bytes().decode("utf-8"))
            bins = [{k: float(b[k]) for k in ("lower", "upper", "accuracy")} for b in bins]
        except (OSError, ValueError, TypeError, KeyError) as e:  # JSON and unicode errors too
            warn(f"leaving out {file}: not a list of calibration bins ({type(e).__name__})")
            continue
        diagrams.append((variant, bins))
    if not diagrams:
        return False
    fig, axes = panels(len(diagrams), 4, (3, 3))
    for ax, (variant, bins) in zip(axes.flat, diagrams, strict=False):
        ax.plot([0, 1], [0, 1], color="gray", linestyle=":")
        width = [b["upper"] - b["lower"] for b in bins]
        ax.bar([b["lower"] for b in bins], [b["accuracy"] for b in bins], width=width, align="edge",
               edgecolor="black", alpha=0.7)  # fmt: skip
        ax.set_title(variant, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
    save(fig, path)
    return True
