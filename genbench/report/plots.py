"""The report's static figures: training curves, the Pareto front of sample quality against
training time, data efficiency and reliability diagrams. Each draws onto a constrained-layout
figure (genbench.report.layout), legends below the axes, and returns False when it has nothing
to draw. The HTML report shows the Pareto and data-efficiency charts interactively as well."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from genbench.report.layout import figure, legend_below, panels, save, wrap
from genbench.results.store import warn_stderr

GENERATIVE_CLASSIFIERS = ("naive-bayes", "lda", "qda")  # beside bayes-*: they model p(x|y)
MARKERS = "osD^vP*Xh<>"


def is_generative(model: str) -> bool:
    """Whether a classifier models p(x|y) and predicts by Bayes' rule."""
    return model.startswith("bayes-") or model in GENERATIVE_CLASSIFIERS


def first_seed(group: pd.DataFrame) -> pd.Series:
    return group.sort_values("seed").iloc[0]


def training_curves(
    runs: pd.DataFrame, path: Path, warn: Callable[[str], None] = warn_stderr
) -> bool:
    """Train and val loss per epoch of each variant's first seed, from Lightning's CSV logs;
    a damaged log is named by `warn` and left out."""
    from matplotlib.ticker import MaxNLocator

    curves = []
    for variant, group in runs.groupby("variant", sort=False):
        frames = []
        for log in sorted(Path(first_seed(group)["dir"]).glob("logs/version_*/metrics.csv")):
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
    fig, axes = panels(len(curves), 3, (3.6, 2.9))
    for ax, (variant, frame) in zip(axes.flat, curves, strict=False):
        for column in [c for c in frame.columns if c.endswith("_loss")]:
            points = frame[["epoch", column]].dropna()
            ax.plot(points["epoch"] + 1, points[column], label=column.removesuffix("_loss"))
        ax.set_title(wrap(str(variant), 40), fontsize=8)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("loss (the model's objective)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    save(fig, path)
    return True


def training_reference(references: pd.DataFrame, samples: float | None) -> pd.Series | None:
    """The real-training-images reference row to draw: the one scored on as many samples as
    the models (FD depends on the count), else the one on the most."""
    train = references[references["model"] == "reference-train"]
    if "fd" not in train or train["fd"].isna().all():
        return None
    train = train.dropna(subset=["fd"])
    counts = train["config"].map(lambda c: (c.get("eval") or {}).get("quality_samples") or 0)
    same = train[counts == samples]
    return (same if len(same) else train.loc[[counts.idxmax()]]).iloc[0]


def pareto_front(points: pd.DataFrame) -> list[tuple[float, float]]:
    """(train_seconds, fd) of the variants no other beats on both, by increasing time."""
    front, best = [], np.inf
    for _, row in points.sort_values("train_seconds").iterrows():
        if row["fd"] < best:
            front.append((row["train_seconds"], row["fd"]))
            best = row["fd"]
    return front


def pareto_points(summary: pd.DataFrame) -> pd.DataFrame:
    """The variants with both an FD and a training time."""
    if "fd" not in summary or "train_seconds" not in summary:
        return summary.iloc[:0]
    return summary.dropna(subset=["fd", "train_seconds"])


def front_candidates(points: pd.DataFrame) -> pd.DataFrame:
    """The points the front is drawn through: full runs only, none smoke nor diverged."""
    keep = pd.Series(True, index=points.index)
    if "smoke" in points:
        keep &= ~points["smoke"].astype(bool)
    if "diverged" in points:
        keep &= points["diverged"] == 0
    return points[keep]


def pareto_plot(
    summary: pd.DataFrame, references: pd.DataFrame, path: Path, samples: float | None = None
) -> bool:
    """FD against training time, a marker per variant named in the legend below (hollow: smoke
    or diverged); the full runs no other beats on both are joined (the front), real training
    images drawn as a line."""
    points = pareto_points(summary)
    if len(points) < 2:
        return False
    fig, axes = figure(1, 1, (7, 4.2))
    ax = axes[0, 0]
    full = front_candidates(points)
    for k, (variant, row) in enumerate(points.iterrows()):
        hollow = {} if variant in full.index else {"facecolors": "none", "edgecolors": f"C{k % 10}"}
        ax.scatter(row["train_seconds"], row["fd"], marker=MARKERS[k % len(MARKERS)],
                   label=str(variant), s=40, zorder=3, color=f"C{k % 10}", **hollow)  # fmt: skip
    if len(full):
        ax.plot(*zip(*pareto_front(full), strict=True), "r--", label="Pareto front (full runs)")
    reference = training_reference(references, samples)
    if reference is not None:
        ax.axhline(reference["fd"], color="gray", linestyle=":", label=f"{reference['variant']}")
    ax.set_xscale("log")
    ax.set_xlabel("training seconds (log scale)")
    ax.set_ylabel("FD ↓")
    handles, labels = ax.get_legend_handles_labels()
    legend_below(fig, handles, labels)
    save(fig, path)
    return True


def efficiency_curves(runs: pd.DataFrame) -> list[tuple[str, bool, pd.DataFrame]]:
    """(variant, generative?, mean and std of test accuracy per training-set size) per variant
    with more than one training-set size."""
    if "n_train" not in runs or runs["train_fraction"].nunique() < 2:
        return []
    curves = []
    for variant, group in runs.groupby("variant", sort=False):
        stats = group.groupby("n_train")["accuracy"].agg(["mean", "std"]).reset_index()
        if len(stats) > 1:
            curves.append((str(variant), is_generative(group["model"].iloc[0]), stats))
    return curves


def data_efficiency_plot(runs: pd.DataFrame, path: Path) -> bool:
    """Test accuracy against the number of training examples, generative classifiers dashed."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    curves = efficiency_curves(runs)
    if not curves:
        return False
    fig, axes = figure(1, 1, (7, 4.2))
    ax = axes[0, 0]
    for k, (variant, generative, stats) in enumerate(curves):
        ax.errorbar(stats["n_train"], stats["mean"], yerr=stats["std"].fillna(0), label=variant,
                    linestyle="--" if generative else "-", marker=MARKERS[k % len(MARKERS)],
                    capsize=2)  # fmt: skip
    sizes = sorted({int(n) for _, _, stats in curves for n in stats["n_train"]})
    ax.set_xscale("log")
    ax.set_xticks(sizes)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("training examples (log scale)")
    ax.set_ylabel("test accuracy ↑")
    ax.set_title("dashed: generative classifiers; solid: discriminative", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    legend_below(fig, handles, labels)
    save(fig, path)
    return True


def calibration_plot(
    runs: pd.DataFrame, path: Path, warn: Callable[[str], None] = warn_stderr
) -> bool:
    """Reliability diagrams of each variant's first seed (accuracy against confidence per bin;
    the diagonal is calibrated; its ECE in the title) over the bin counts; a damaged
    calibration.json is named by `warn` and left out."""
    diagrams = []
    for variant, group in runs.groupby("variant", sort=False):
        run = first_seed(group)
        file = Path(run["dir"]) / "calibration.json"
        if not file.exists():
            continue
        try:
            bins = json.loads(file.read_bytes().decode("utf-8"))
            keys = ("lower", "upper", "confidence", "accuracy", "count")
            bins = [{k: float(b[k]) for k in keys} for b in bins]
        except (OSError, ValueError, TypeError, KeyError) as e:  # JSON and unicode errors too
            warn(f"leaving out {file}: not a list of calibration bins ({type(e).__name__})")
            continue
        diagrams.append((str(variant), bins, run.get("ece", np.nan)))
    if not diagrams:
        return False
    cols = min(4, len(diagrams))
    rows = -(-len(diagrams) // cols)
    fig, axes = figure(cols, 2 * rows, (2.6, 1.45), gridspec_kw={"height_ratios": [3, 1] * rows})
    for k in range(cols * rows):
        top, bottom = axes[2 * (k // cols), k % cols], axes[2 * (k // cols) + 1, k % cols]
        if k >= len(diagrams):
            top.axis("off")
            bottom.axis("off")
            continue
        variant, bins, ece = diagrams[k]
        lower = [b["lower"] for b in bins]
        width = [b["upper"] - b["lower"] for b in bins]
        top.plot([0, 1], [0, 1], color="gray", linestyle=":")
        top.bar(lower, [b["accuracy"] for b in bins], width=width, align="edge",
                edgecolor="black", alpha=0.7)  # fmt: skip
        top.set_title(wrap(f"{variant}: ECE {ece:.4f}", 30), fontsize=8)
        top.set(xlim=(0, 1), ylim=(0, 1), xticklabels=[])
        top.set_ylabel("accuracy", fontsize=8)
        bottom.bar(lower, [b["count"] for b in bins], width=width, align="edge", color="gray")
        bottom.set_xlim(0, 1)
        bottom.set_xlabel("confidence", fontsize=8)
        bottom.set_ylabel("count", fontsize=8)
        for ax in (top, bottom):
            ax.tick_params(labelsize=7)
    save(fig, path)
    return True
