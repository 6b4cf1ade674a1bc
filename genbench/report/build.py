"""The comparison report, built from the stored results alone: index.html and report.md with
tables (mean ± std over seeds, the best per column marked, each metric's direction and
definition), sample grids, training curves and plots (interactive in the HTML), the
environment, and the command that reproduces each row.

load (runs from the store) -> tables and plots -> render (Markdown and HTML); this module
puts the sections together and owns the report folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from genbench.errors import GenbenchError
from genbench.evaluation.metrics import CLASSIFIER_COLUMNS, GENERATIVE_COLUMNS
from genbench.report.interactive import efficiency_chart, pareto_chart, write_plotly_js
from genbench.report.load import load_runs, reproduce
from genbench.report.plots import (
    calibration_plot,
    data_efficiency_plot,
    pareto_plot,
    training_curves,
    training_reference,
)
from genbench.report.render import Figure, markdown, page
from genbench.report.tables import render_table, summarize

__all__ = ["build_report", "load_runs", "reproduce"]


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
    script = write_plotly_js(out)
    sections = [
        section(dataset, data_runs, out)
        for dataset, data_runs in runs.groupby("dataset", sort=True)
    ]
    environment = {
        "versions": sorted(runs["versions"].unique()),
        "devices": sorted(d for d in runs["device"].unique() if d),
    }
    counts = run_counts(runs)
    (out / "report.md").write_text(markdown(sections, environment, counts))
    index = out / "index.html"
    index.write_text(page(sections, environment, counts, script))
    return index


def section(dataset: str, data_runs: pd.DataFrame, out: Path) -> dict[str, Any]:
    """One dataset's tables, figures, sample grids (named by run id: each caption shows its own
    run's image) and reproduce commands, its images written under out/assets."""
    found: dict[str, Any] = {"dataset": dataset, "tables": [], "figures": [], "grids": []}
    full = data_runs[data_runs["train_fraction"] >= 1.0]
    generative = full[full["kind"] == "generative"]
    references = full[full["kind"] == "reference"]
    classifiers = full[full["kind"] == "classifier"]
    name = safe(dataset)
    if len(generative):
        summary = summarize(generative, GENERATIVE_COLUMNS)
        found["tables"].append(
            render_table("Generative models", summary, GENERATIVE_COLUMNS, references)
        )
        samples = common_quality_samples(generative)
        if pareto_plot(summary, references, out / f"assets/pareto-{name}.png", samples):
            reference = training_reference(references, samples)
            chart = pareto_chart(
                summary, None if reference is None else reference["fd"], f"pareto-{name}"
            )
            found["figures"].append(
                Figure("Sample quality against training time", f"assets/pareto-{name}.png", chart)
            )
        for variant, group in generative.groupby("variant", sort=False):
            run = group.sort_values("seed").iloc[0]
            for image in ("samples", "reconstructions"):
                if (Path(run["dir"]) / f"{image}.png").is_file():
                    target = f"assets/{safe(run['run_id'])}-{image}.png"
                    shutil.copyfile(Path(run["dir"]) / f"{image}.png", out / target)
                    caption = f"{variant}, seed {run['seed']}: {image} (run {run['run_id']})"
                    found["grids"].append(Figure(caption, target))
    if len(classifiers):
        summary = summarize(classifiers, CLASSIFIER_COLUMNS)
        found["tables"].append(render_table("Classifiers", summary, CLASSIFIER_COLUMNS))
        if calibration_plot(classifiers, out / f"assets/calibration-{name}.png"):
            found["figures"].append(
                Figure(
                    "Calibration: reliability diagrams over bin counts (first seed)",
                    f"assets/calibration-{name}.png",
                )
            )
    all_classifiers = data_runs[data_runs["kind"] == "classifier"]
    if len(all_classifiers) and data_efficiency_plot(
        all_classifiers, out / f"assets/data-efficiency-{name}.png"
    ):
        chart = efficiency_chart(all_classifiers, f"data-efficiency-{name}")
        found["figures"].append(
            Figure(
                "Accuracy against training-set size",
                f"assets/data-efficiency-{name}.png",
                chart,
            )
        )
    trained = data_runs[data_runs["kind"] != "reference"]
    if training_curves(trained, out / f"assets/curves-{name}.png"):
        found["figures"].append(Figure("Training curves (first seed)", f"assets/curves-{name}.png"))
    commands = []
    for variant, group in trained.groupby("variant", sort=False):
        seeds = sorted(group["seed"].unique())
        config = group.sort_values("seed").iloc[0]["config"]
        commands.append((variant, reproduce(config), seeds))
    found["commands"] = commands
    return found


def common_quality_samples(runs: pd.DataFrame) -> float | None:
    """The number of samples most of these runs scored sample quality on (None: none did)."""
    counts = runs["config"].map(lambda c: (c.get("eval") or {}).get("quality_samples"))
    counts = counts.dropna()
    return None if counts.empty else counts.mode().iloc[0]


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
