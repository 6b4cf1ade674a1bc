"""The comparison report, built from the stored results alone: index.html and report.md with
tables (mean ± std over seeds, the best per column marked), sample grids, training curves and
plots, the environment, and the command that reproduces each row.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

from genbench.errors import GenbenchError
from genbench.results.store import FINISHED, RUNS, iter_results, warn_stderr

# (metric, header, lower is better); the generative table, then the classifier table
GENERATIVE = [
    ("bpd", "bpd", True),
    ("fd", "FD", True),
    ("kd", "KD", True),
    ("precision", "precision", False),
    ("recall", "recall", False),
    ("memorized_fraction", "memorized", True),
    ("params", "params", True),
    ("train_seconds", "train s", True),
]
CLASSIFIER = [
    ("accuracy", "accuracy", False),
    ("nll", "NLL", True),
    ("ece", "ECE", True),
    ("fit_seconds", "fit s", True),
]
GENERATIVE_CLASSIFIERS = ("naive-bayes", "lda", "qda")  # beside bayes-*: they model p(x|y)
matplotlib.use("Agg")  # files only, no display


@dataclass
class Figure:
    title: str
    path: str  # relative to the report folder


def load_runs(results: Path, warn: Callable[[str], None] = warn_stderr) -> pd.DataFrame:
    """One row per finished run (done or diverged) with its metrics, its variant label and its
    folder. Failed runs are left out, and damaged ones skipped, each named by `warn`; the
    table's `attrs["failed"]` counts the failed."""
    rows, failed = [], 0
    for directory, r in iter_results(results, warn):
        if r["status"] not in FINISHED:
            failed += 1
            warn(f"leaving out failed run {directory}: {str(r.get('error', ''))[:100]}")
            continue
        config = r.get("config", {})
        if r.get("kind") != "reference" and not reproducible(config):
            warn(f"skipping run {directory}: its config lacks model_name, dataset_name or seed")
            continue
        row = {
            "run_id": r["run_id"],
            "model": r["model"],
            "dataset": r["dataset"],
            "seed": r["seed"],
            "status": r["status"],
            "kind": r.get("kind", "generative"),
            "train_fraction": config.get("data", {}).get("train_fraction", 1.0),
            "config": config,
            "versions": json.dumps(r.get("versions", {}), sort_keys=True),
            "device": str((r.get("device") or {}).get("name", "")),
            "dir": directory,
            **r["metrics"],
        }
        rows.append(row)
    if not rows:
        raise GenbenchError(
            f"no finished runs under {results / RUNS}: run genbench run or genbench suite first"
        )
    table = pd.DataFrame(rows)
    table["variant"] = variant_labels(table)
    table.attrs["failed"] = failed
    return table


def reproducible(config: dict[str, Any]) -> bool:
    """Whether a stored config names what `genbench run` needs: model, dataset and seed."""
    names = isinstance(config.get("model_name"), str) and isinstance(
        config.get("dataset_name"), str
    )
    return names and isinstance(config.get("seed"), int)


def flatten(config: dict[str, Any]) -> dict[str, Any]:
    """{'model': {'lr': 0.1}} -> {'model.lr': 0.1}, for the sections of a run config."""
    return {
        f"{section}.{key}": value
        for section in ("model", "data", "trainer", "eval")
        for key, value in (config.get(section) or {}).items()
    }


def variant_labels(table: pd.DataFrame) -> list[str]:
    """The model's name, plus the settings that tell its runs apart on a dataset (the seed and
    the training fraction are columns of their own)."""
    labels = {}
    for (_, _), group in table.groupby(["dataset", "model"]):
        flat = {i: flatten(c) for i, c in zip(group.index, group["config"], strict=True)}
        keys = sorted({k for f in flat.values() for k in f} - {"data.train_fraction"})
        varying = [k for k in keys if len({json.dumps(f.get(k)) for f in flat.values()}) > 1]
        for i, model in zip(group.index, group["model"], strict=True):
            detail = ", ".join(f"{k.split('.', 1)[1]}={flat[i].get(k)}" for k in varying)
            labels[i] = f"{model} ({detail})" if detail else model
    return [labels[i] for i in table.index]


def summarize(runs: pd.DataFrame, metrics: list[tuple[str, str, bool]]) -> pd.DataFrame:
    """Mean, std and count over seeds for each variant and metric."""
    present = [m for m, _, _ in metrics if m in runs]
    grouped = runs.groupby("variant", sort=False)
    summary = pd.DataFrame({"seeds": grouped["seed"].nunique()})
    summary["diverged"] = grouped["status"].agg(lambda status: int((status == "diverged").sum()))
    for metric in present:
        summary[metric] = grouped[metric].mean()
        summary[f"{metric}_std"] = grouped[metric].std().fillna(0.0)
    if "bpd_kind" in runs:
        summary["bpd_kind"] = grouped["bpd_kind"].first()
    if "bpd_n" in runs and "test_examples" in runs:  # a likelihood on part of the test split
        summary["bpd_n"] = grouped["bpd_n"].min()
        summary["test_examples"] = grouped["test_examples"].max()
    return summary


def cell(value: float, std: float, metric: str) -> str:
    if pd.isna(value):
        return "-"
    if metric == "params":
        return f"{value:,.0f}"
    digits = 1 if metric.endswith("seconds") else 3
    return f"{value:.{digits}f}" + (f" ± {std:.{digits}f}" if std > 0 else "")


def render_table(
    summary: pd.DataFrame,
    metrics: list[tuple[str, str, bool]],
    references: pd.DataFrame | None = None,
) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    """Header, rows of text, and which cells are the best of their column (models only; a
    variant with a diverged run is never the best: its figures are not a finished run's)."""
    present = [(m, h, low) for m, h, low in metrics if m in summary]
    header = ["model", "seeds"] + [h for _, h, _ in present]
    rows, best = [], []
    winners = {}
    eligible = summary[summary["diverged"] == 0]
    for metric, _, low in present:
        values = eligible[metric].dropna()
        if len(values) > 1:
            winners[metric] = values.idxmin() if low else values.idxmax()
    for variant, row in summary.iterrows():
        diverged = f" ({row['diverged']} diverged)" if row["diverged"] else ""
        texts = [f"{variant}{diverged}", str(int(row["seeds"]))]
        marks = [False, False]
        for metric, _, _ in present:
            text = cell(row[metric], row.get(f"{metric}_std", 0.0), metric)
            if metric == "bpd" and isinstance(row.get("bpd_kind"), str) and text != "-":
                part = row.get("bpd_n", np.nan) < row.get("test_examples", np.nan)
                of = f", first {row['bpd_n']:.0f} of {row['test_examples']:.0f}" if part else ""
                text += f" ({row['bpd_kind']}{of})"
            texts.append(text)
            marks.append(winners.get(metric) == variant)
        rows.append(texts)
        best.append(marks)
    if references is not None:
        for _, ref in references.iterrows():
            texts = [f"{ref['model']} (reference)", "-"]
            texts += [cell(ref.get(m, np.nan), 0.0, m) if m in ref else "-" for m, _, _ in present]
            rows.append(texts)
            best.append([False] * len(texts))
    return header, rows, best


def reproduce(config: dict[str, Any]) -> str:
    """The `genbench run` command for a stored config: the settings that differ from the
    presets become --set overrides."""
    from genbench.config import resolve

    model, dataset, seed = config["model_name"], config["dataset_name"], config["seed"]
    command = f"genbench run --model {model} --dataset {dataset} --seed {seed}"
    preset = (config.get("trainer") or {}).get("preset", "default")
    base = [] if preset == "default" else [f"trainer.preset={preset}"]
    try:
        defaults = flatten(resolve(model, dataset, seed, base).to_dict())
    except GenbenchError:
        defaults = {}
    for key, value in flatten(config).items():
        if defaults.get(key) != value or (key == "trainer.preset" and base):
            command += f" --set {key}={json.dumps(value)}"
    return command


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


def build_report(results: Path, out: Path) -> Path:
    """Write out/index.html, out/report.md and out/assets/; return the HTML's path. A folder
    that cannot be written fails with a GenbenchError before anything is written."""
    check_folder(out)  # before anything is read or written
    runs = load_runs(results)
    prepare_folder(out)
    assets = out / "assets"
    if assets.exists():
        shutil.rmtree(assets)
    assets.mkdir(parents=True)
    sections: list[dict[str, Any]] = []
    for dataset, data_runs in runs.groupby("dataset", sort=True):
        section: dict[str, Any] = {"dataset": dataset, "tables": [], "figures": [], "grids": []}
        full = data_runs[data_runs["train_fraction"] >= 1.0]
        generative = full[full["kind"] == "generative"]
        references = full[full["kind"] == "reference"]
        classifiers = full[full["kind"] == "classifier"]
        if len(generative):
            summary = summarize(generative, GENERATIVE)
            section["tables"].append(
                ("Generative models", *render_table(summary, GENERATIVE, references))
            )
            if pareto_plot(summary, references, assets / f"pareto-{dataset}.png"):
                section["figures"].append(
                    Figure("Sample quality against training time", f"assets/pareto-{dataset}.png")
                )
            for variant, group in generative.groupby("variant", sort=False):
                run = Path(group.sort_values("seed").iloc[0]["dir"])
                for name in ("samples", "reconstructions"):
                    if (run / f"{name}.png").is_file():
                        target = f"assets/{safe(variant)}-{dataset}-{name}.png"
                        shutil.copyfile(run / f"{name}.png", out / target)
                        section["grids"].append(Figure(f"{variant}: {name}", target))
        if len(classifiers):
            summary = summarize(classifiers, CLASSIFIER)
            section["tables"].append(("Classifiers", *render_table(summary, CLASSIFIER)))
            if calibration_plot(classifiers, assets / f"calibration-{dataset}.png"):
                section["figures"].append(
                    Figure(
                        "Calibration (reliability diagrams)", f"assets/calibration-{dataset}.png"
                    )
                )
        all_classifiers = data_runs[data_runs["kind"] == "classifier"]
        if len(all_classifiers) and data_efficiency_plot(
            all_classifiers, assets / f"data-efficiency-{dataset}.png"
        ):
            section["figures"].append(
                Figure(
                    "Accuracy against training-set size", f"assets/data-efficiency-{dataset}.png"
                )
            )
        trained = data_runs[data_runs["kind"] != "reference"]
        if training_curves(trained, assets / f"curves-{dataset}.png"):
            section["figures"].append(
                Figure("Training curves (first seed)", f"assets/curves-{dataset}.png")
            )
        commands = []
        for variant, group in trained.groupby("variant", sort=False):
            seeds = sorted(group["seed"].unique())
            config = group.sort_values("seed").iloc[0]["config"]
            commands.append((variant, reproduce(config), seeds))
        section["commands"] = commands
        sections.append(section)
    environment = {
        "versions": sorted(runs["versions"].unique()),
        "devices": sorted(d for d in runs["device"].unique() if d),
    }
    counts = run_counts(runs)
    (out / "report.md").write_text(markdown(sections, environment, counts))
    index = out / "index.html"
    index.write_text(page(sections, environment, counts))
    return index


def check_folder(out: Path) -> None:
    """Fail with one line, writing nothing, if `out` cannot become the report folder."""
    if out.exists() and not out.is_dir():
        raise GenbenchError(f"report folder {out} is a file; choose a folder with --out")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise GenbenchError(f"cannot create the report folder {out}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise GenbenchError(f"cannot create the report folder {out}: {existing} is not writable")


def prepare_folder(out: Path) -> None:
    """Create the report folder, or fail with one line if it cannot be made."""
    if (out / "assets").exists() and not (out / "assets").is_dir():
        raise GenbenchError(f"{out / 'assets'} is a file; the report writes its images there")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise GenbenchError(
            f"cannot write the report to {out}: {e.strerror or e}; choose another --out"
        ) from None


def run_counts(runs: pd.DataFrame) -> str:
    """'12 runs (1 diverged; 2 failed, not shown)': what the tables are made of."""
    diverged = int((runs["status"] == "diverged").sum())
    failed = runs.attrs.get("failed", 0)
    notes = [f"{diverged} diverged"] if diverged else []
    notes += [f"{failed} failed, not shown"] if failed else []
    return f"{len(runs)} runs" + (f" ({'; '.join(notes)})" if notes else "")


def safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:80]


def markdown(sections: list[dict[str, Any]], environment: dict[str, Any], counts: str) -> str:
    lines = [
        "# genbench report",
        "",
        f"{counts}. Mean ± standard deviation over seeds; **bold**: best in its column.",
        "",
    ]
    for section in sections:
        lines += [f"## {section['dataset']}", ""]
        for title, header, rows, best in section["tables"]:
            lines += [
                f"### {title}",
                "",
                "| " + " | ".join(header) + " |",
                "|" + "---|" * len(header),
            ]
            for row, marks in zip(rows, best, strict=True):
                lines.append(
                    "| "
                    + " | ".join(f"**{t}**" if m else t for t, m in zip(row, marks, strict=True))
                    + " |"
                )
            lines.append("")
        for figure in section["figures"] + section["grids"]:
            lines += [f"![{figure.title}]({figure.path})", ""]
        lines += ["### Reproduce", ""]
        for variant, command, seeds in section["commands"]:
            lines.append(f"- {variant} (seeds {', '.join(map(str, seeds))}): `{command}`")
        lines.append("")
    lines += ["## Environment", ""]
    lines += [f"- versions: `{v}`" for v in environment["versions"]]
    lines += [f"- device: {d}" for d in environment["devices"]]
    return "\n".join(lines) + "\n"


def page(sections: list[dict[str, Any]], environment: dict[str, Any], counts: str) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>genbench report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:right}td:first-child,th:first-child{text-align:left}.best{font-weight:bold;"
        "background:#e8f5e9}img{max-width:100%;border:1px solid #eee}figure{display:inline-block;"
        "margin:0.5em;vertical-align:top}code{font-size:85%}</style></head><body>",
        f"<h1>genbench report</h1><p>{e(counts)}. Mean ± standard deviation over seeds; "
        "<span class='best'>highlighted</span>: best in its column.</p>",
    ]
    for section in sections:
        parts.append(f"<h2>{e(section['dataset'])}</h2>")
        for title, header, rows, best in section["tables"]:
            parts.append(f"<h3>{e(title)}</h3><table><thead><tr>")
            parts.append("".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>")
            for row, marks in zip(rows, best, strict=True):
                cells = "".join(
                    f"<td class='best'>{e(t)}</td>" if m else f"<td>{e(t)}</td>"
                    for t, m in zip(row, marks, strict=True)
                )
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</tbody></table>")
        parts += [figure_html(figure) for figure in section["figures"]]
        if section["grids"]:
            parts.append("<h3>Samples and reconstructions (first seed)</h3>")
            parts += [figure_html(figure) for figure in section["grids"]]
        parts.append("<h3>Reproduce</h3><ul>")
        for variant, command, seeds in section["commands"]:
            seed_list = ", ".join(map(str, seeds))
            parts.append(f"<li>{e(variant)} (seeds {seed_list}): <code>{e(command)}</code></li>")
        parts.append("</ul>")
    parts.append("<h2>Environment</h2><ul>")
    parts += [f"<li>versions: <code>{e(v)}</code></li>" for v in environment["versions"]]
    parts += [f"<li>device: {e(d)}</li>" for d in environment["devices"]]
    parts.append("</ul>")
    # marks images that failed to load, for readers and for the browser test
    parts.append(
        "<script>window.addEventListener('load', function () {"
        "var broken = Array.prototype.filter.call(document.images, function (i) {"
        "return !i.complete || i.naturalWidth === 0; });"
        "document.body.setAttribute('data-broken-images', broken.length);"
        "document.body.setAttribute('data-images', document.images.length); });</script>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def figure_html(figure: Figure) -> str:
    path, title = html.escape(figure.path), html.escape(figure.title)
    return f"<figure><img src='{path}' alt='{title}'><figcaption>{title}</figcaption></figure>"
