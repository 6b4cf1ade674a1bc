"""The report's tables: mean ± std over seeds per variant, each metric's header, direction,
format and best cells as the metric table (genbench.evaluation.metrics) says, with footnotes
for what a reader must know (smoke runs, spreads larger than the mean, mixed thread counts)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genbench.evaluation.metrics import BY_NAME, kind_definition

# a variant whose samples cover less than this share of the test images is collapsed: the
# metrics that reward a few good samples (precision, density) do not mark it best
COLLAPSE_RECALL = 0.05
REWARD_COLLAPSE = ("precision", "density")
SPREAD, MIXED = "†", "‡"  # footnote marks: std larger than the mean; seeds on mixed threads


@dataclass
class Table:
    """One rendered table: header, rows of text, which cells are best, footnotes, definitions."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    best: list[list[bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    definitions: list[str] = field(default_factory=list)


def summarize(runs: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Mean, std and count over seeds for each variant and each metric of `columns` that some
    run has; plus whether the variant is a smoke run, its thread counts and likelihood kind."""
    present = [m for m in columns if m in runs and runs[m].notna().any()]
    grouped = runs.groupby("variant", sort=False)
    summary = pd.DataFrame({"seeds": grouped["seed"].nunique()})
    summary["diverged"] = grouped["status"].agg(lambda status: int((status == "diverged").sum()))
    summary["smoke"] = grouped["smoke"].any() if "smoke" in runs else False
    threads = runs["threads"] if "threads" in runs else pd.Series(np.nan, index=runs.index)
    summary["threads"] = threads.groupby(runs["variant"], sort=False).agg(
        lambda t: sorted({int(v) for v in t.dropna()})
    )
    if not set(REWARD_COLLAPSE).isdisjoint(present):
        recall = runs["recall"] if "recall" in runs else pd.Series(np.nan, index=runs.index)
        summary["collapse_recall"] = recall.groupby(runs["variant"], sort=False).mean()
    for metric in present:
        summary[metric] = grouped[metric].mean()
        summary[f"{metric}_std"] = grouped[metric].std().fillna(0.0)
    for text in ("bpd_kind", "feature_space"):
        if text in runs:
            summary[text] = grouped[text].first()
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


def winners(summary: pd.DataFrame, metric: str) -> set[str]:
    """The variants best in `metric`, ties (equal as printed) all included: only finished,
    non-smoke variants with no diverged run count, and no collapsed one where it would gain."""
    direction = BY_NAME[metric].direction
    eligible = summary[(summary["diverged"] == 0) & ~summary["smoke"].astype(bool)]
    if metric in REWARD_COLLAPSE and "collapse_recall" in eligible:
        # recall undefined (its samples repeat: a ball of radius 0) is collapse too
        recall = eligible["collapse_recall"]
        eligible = eligible[recall.notna() & ~(recall < COLLAPSE_RECALL)]
    values = eligible[metric].dropna()
    if direction is None or len(values) < 2:
        return set()
    best = values.min() if direction == "lower" else values.max()
    shown = BY_NAME[metric].format(best)
    return {v for v, x in values.items() if BY_NAME[metric].format(x) == shown}


def render_table(
    title: str,
    summary: pd.DataFrame,
    columns: tuple[str, ...],
    references: pd.DataFrame | None = None,
) -> Table:
    """The table of `summary`'s variants (and reference rows, never best) over `columns`."""
    present = [m for m in columns if m in summary]
    header = ["model", "seeds"] + [
        f"{BY_NAME[m].label} {BY_NAME[m].arrow}".strip() for m in present
    ]
    table = Table(title, header)
    best = {metric: winners(summary, metric) for metric in present}
    spread = mixed = False
    for variant, row in summary.iterrows():
        label = str(variant) + (f" ({row['diverged']} diverged)" if row["diverged"] else "")
        if len(row["threads"]) > 1:
            label, mixed = label + f" {MIXED}", True
        texts, marks = [label, str(int(row["seeds"]))], [False, False]
        for metric in present:
            mean, std = row[metric], row.get(f"{metric}_std", 0.0)
            text = cell(mean, std, metric)
            if metric == "bpd" and isinstance(row.get("bpd_kind"), str) and text != "-":
                part = row.get("bpd_n", np.nan) < row.get("test_examples", np.nan)
                of = f", first {row['bpd_n']:.0f} of {row['test_examples']:.0f}" if part else ""
                text += f" ({row['bpd_kind']}{of})"
            if std > abs(mean):
                text, spread = text + f" {SPREAD}", True
            texts.append(text)
            marks.append(variant in best[metric])
        table.rows.append(texts)
        table.best.append(marks)
    if references is not None:
        for _, ref in references.iterrows():
            texts = [f"{ref['variant']} (reference)", "-"]
            texts += [cell(ref.get(m, np.nan), 0.0, m) for m in present]
            table.rows.append(texts)
            table.best.append([False] * len(texts))
    table.notes = notes(summary, spread, mixed)
    table.definitions = definitions(summary, present)
    return table


def notes(summary: pd.DataFrame, spread: bool, mixed: bool) -> list[str]:
    """The footnotes a reader needs for this table, each only where it applies."""
    lines = []
    if summary["smoke"].astype(bool).any():
        lines.append(
            "Runs on the quick preset are smoke tests (2 epochs, cheap evaluation): shown, "
            "never marked best."
        )
    if summary["diverged"].any():
        lines.append("A variant with a diverged run is never marked best.")
    if spread:
        lines.append(f"{SPREAD} The spread over seeds is larger than the mean.")
    if mixed:
        lines.append(
            f"{MIXED} Its seeds ran with different thread counts; results depend on the thread "
            "count in their last digits."
        )
    return lines


def definitions(summary: pd.DataFrame, present: list[str]) -> list[str]:
    """'FD ↓: Fréchet distance ... (features of ...)' for each column with a definition."""
    spaces = summary["feature_space"].dropna().unique() if "feature_space" in summary else []
    space = ", ".join(map(str, spaces)) or "the dataset's feature space"
    if len(spaces) and all(str(s).endswith("-pixels") for s in spaces):
        space = f"pixels ({space})"
    elif len(spaces):
        space = f"features of a small network genbench trained on this dataset: {space}"
    lines = []
    for metric in present:
        m = BY_NAME[metric]
        if m.definition:
            lines.append(f"{m.label} {m.arrow}".strip() + f": {m.definition.format(space=space)}")
    if "bpd" in present and "bpd_kind" in summary:  # the kinds of estimate in the bpd column
        for kind in summary["bpd_kind"].dropna().unique():
            if definition := kind_definition(str(kind)):
                lines.append(f"{kind}: {definition}")
    return lines
