"""The report's tables: mean ± std over seeds per variant, each metric's column and its best
cell as the metric table (genbench.evaluation.metrics) says."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genbench.evaluation.metrics import BY_NAME


def summarize(runs: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Mean, std and count over seeds for each variant and metric of `columns`."""
    present = [m for m in columns if m in runs]
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
    """A mean, and its spread over seeds where there is one, as the metric table formats it."""
    if pd.isna(value):
        return "-"
    m = BY_NAME[metric]
    return m.format(value) + (f" ± {m.format(std)}" if std > 0 else "")


def render_table(
    summary: pd.DataFrame,
    columns: tuple[str, ...],
    references: pd.DataFrame | None = None,
) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    """Header, rows of text, and which cells are the best of their column (models only; a
    variant with a diverged run is never the best: its figures are not a finished run's)."""
    present = [m for m in columns if m in summary]
    header = ["model", "seeds"] + [BY_NAME[m].label for m in present]
    rows, best = [], []
    winners = {}
    eligible = summary[summary["diverged"] == 0]
    for metric in present:
        direction = BY_NAME[metric].direction
        values = eligible[metric].dropna()
        if len(values) > 1 and direction is not None:
            winners[metric] = values.idxmin() if direction == "lower" else values.idxmax()
    for variant, row in summary.iterrows():
        diverged = f" ({row['diverged']} diverged)" if row["diverged"] else ""
        texts = [f"{variant}{diverged}", str(int(row["seeds"]))]
        marks = [False, False]
        for metric in present:
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
            texts += [cell(ref.get(m, np.nan), 0.0, m) if m in ref else "-" for m in present]
            rows.append(texts)
            best.append([False] * len(texts))
    return header, rows, best
