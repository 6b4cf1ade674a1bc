"""`genbench results`: which columns it shows, and its table as text, markdown, LaTeX, CSV or JSON.

Pure functions over the DataFrame of genbench.results.store.load_results. Each metric's label and
format come from genbench.evaluation.metrics; a metric a run does not have is `-` in the tables,
empty in CSV and null in JSON, and a count is an integer in every format.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from genbench.errors import GenbenchError, unknown_choice
from genbench.evaluation.metrics import BY_NAME, METRICS
from genbench.results.store import IDENTITY, TEXT_METRICS, warn_stderr

if TYPE_CHECKING:
    import pandas as pd

SHORT_ID = "id"  # the run id without the model, dataset and seed its row shows beside it
HEADLINE = ("bpd", "fd", "accuracy", "train_seconds")  # the default view's metrics, where present
COMPACT = (SHORT_ID, "model", "dataset", "seed", "status")
COLUMNS = (SHORT_ID, *IDENTITY, *(m.name for m in METRICS), *TEXT_METRICS)  # --columns' names
WIDTH = 100  # the default view fits this many characters
PAGE_ROWS = 40  # more rows than a page holds: a longtable
LATEX_WIDTH = 64  # characters (\small, 4pt column gaps) that fit a portrait article's 345pt
ID_WIDTH = 10  # to fit, the short id is cut to this many first
MISSING = "-"
SHRINKABLE = (SHORT_ID, "model", "dataset")  # text the default table may cut short to fit
LATEX = str.maketrans(
    {c: "\\" + c for c in "_%&#${}"}
    | {"~": r"\~{}", "^": r"\^{}", "\\": r"\textbackslash{}"}  # \textasciitilde: TS1 fonts
    | {"<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "…": r"\ldots{}"}
)


def parse_columns(text: str, present: Iterable[str] = ()) -> list[str]:
    """The names of `--columns a,b,c`, in order; a name that is neither a known column nor one of
    `present` (the stored runs' columns), or an empty one, is a GenbenchError."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise GenbenchError(f"--columns takes names like id,model,bpd, got '{text}'")
    valid = dict.fromkeys([*COLUMNS, *present])
    for name in names:
        if name not in valid:
            raise unknown_choice("column", name, valid)
    return list(dict.fromkeys(names))


def default_columns(table: pd.DataFrame, fmt: str) -> list[str]:
    """Every column for CSV and JSON; for reading, identity and the headline metrics any run
    has (in LaTeX, without the run id)."""
    if fmt in ("csv", "json"):
        return list(table.columns)
    present = [c for c in HEADLINE if c in table.columns and table[c].notna().any()]
    if fmt == "latex":  # a paper's table: no run ids; the status only where a run is not done
        status = ["status"] if (table["status"] != "done").any() else []
        return ["model", "dataset", "seed", *status, *present]
    return [*COMPACT, *present]


def short_id(run_id: str, model: str, dataset: str, seed: Any) -> str:
    """The run id less the `<model>-<dataset>-s<seed>-` (or `<model>-<dataset>-`) it starts with."""
    for prefix in (f"{model}-{dataset}-s{seed}-", f"{model}-{dataset}-", f"{model}-"):
        if run_id.startswith(prefix) and len(run_id) > len(prefix):
            return run_id[len(prefix) :]
    return run_id


def select(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The table's `columns` in order: the short id made, a column no run has all missing."""
    table = table.copy()
    if SHORT_ID in columns:
        keys = zip(table["run_id"], table["model"], table["dataset"], table["seed"], strict=True)
        table[SHORT_ID] = [short_id(*key) for key in keys]
    for column in columns:
        if column not in table.columns:
            table[column] = None
    return table[list(columns)]


def native(value: Any) -> Any:
    """A cell as a plain Python value (numpy's scalars unwrapped), None where it is missing."""
    value = value.item() if hasattr(value, "item") else value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def is_count(column: str, values: Sequence[Any]) -> bool:
    """Whether a column holds whole numbers: a metric printed without decimals, or (a column the
    metric table does not know) every value whole; a float column of counts is read back as such."""
    metric = BY_NAME.get(column)
    if metric is not None and metric.fmt not in ("d", ",") and not metric.fmt.endswith(".0f"):
        return False
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, int) or (isinstance(v, float) and v.is_integer()) for v in present
    )


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as plain values: counts as ints, a missing metric None."""
    columns = {c: [native(v) for v in table[c]] for c in table.columns}
    for column, values in columns.items():
        if is_count(column, values):
            columns[column] = [None if v is None else int(v) for v in values]
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def to_json(table: pd.DataFrame) -> str:
    """A JSON list of one object per run; a missing (or infinite) value is null."""
    rows = [
        {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
        for row in records(table)
    ]
    return json.dumps(rows, indent=2) + "\n"


def to_csv(table: pd.DataFrame) -> str:
    """CSV with a header of column names; a missing value is an empty field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([["" if v is None else v for v in row.values()] for row in records(table)])
    return out.getvalue()


def label(column: str) -> str:
    """A column's header in the tables: the metric's label, or the column's name."""
    return BY_NAME[column].label if column in BY_NAME else column


def is_number(column: str, table: pd.DataFrame) -> bool:
    """Whether a column is numbers (aligned right) rather than text."""
    if column in BY_NAME:
        return BY_NAME[column].fmt != "s"
    return table[column].dtype.kind in "iuf"


def cell(column: str, value: Any) -> str:
    """One value as the tables print it: as its metric's format says, `-` if missing."""
    value = native(value)
    if value is None:
        return MISSING
    metric = BY_NAME.get(column)
    if metric is not None and metric.fmt != "s" and isinstance(value, int | float):
        return metric.format(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".4g")
    return str(value)


Grid = tuple[list[str], list[list[str]], list[bool]]  # headers, rows of cells, aligned right


def grid(table: pd.DataFrame) -> Grid:
    """Headers, rows of cells and which columns align right."""
    columns = list(table.columns)
    rows = [
        [cell(c, v) for c, v in zip(columns, row, strict=True)] for row in table.itertuples(False)
    ]
    return [label(c) for c in columns], rows, [is_number(c, table) for c in columns]


def fit(table: pd.DataFrame, width: int, warn: Callable[[str], None], cut: bool = True) -> Grid:
    """The grid within `width` characters (two between columns): the id cut to ID_WIDTH, then the
    widest of id, model and dataset cut short with `…` (unless not `cut`: a paper's names stay
    whole); if need be, the last columns left out."""
    headers, rows, right = grid(table)
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    shrink = {i: c == SHORT_ID for i, c in enumerate(table.columns) if c in SHRINKABLE and cut}
    while sum(widths) + 2 * len(widths) - 2 > width and shrink:
        i = max(shrink, key=lambda j: (shrink[j] and widths[j] > ID_WIDTH, widths[j]))
        if widths[i] <= max(len(headers[i]), 6):
            break
        widths[i] -= 1
    kept = len(widths)
    while kept > 1 and sum(widths[:kept]) + 2 * kept - 2 > width:
        kept -= 1
    if kept < len(widths):
        left_out = ", ".join(table.columns[kept:])
        warn(f"left out {left_out} to fit {width} characters; --columns or --all shows them")
    rows = [
        [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(r, widths, strict=True)]
        for r in rows
    ]
    return headers[:kept], [r[:kept] for r in rows], right[:kept]


def to_text(grid: Grid) -> str:
    """An aligned text table, two spaces between columns."""
    headers, rows, right = grid
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        aligned = (
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        )
        return "  ".join(aligned).rstrip()

    return "".join(line(row) + "\n" for row in (headers, *rows))


def to_markdown(grid: Grid) -> str:
    """A GitHub-flavoured markdown table, numbers aligned right."""
    headers, rows, right = grid
    rule = ["---:" if r else ":---" for r in right]
    return "".join(
        "| " + " | ".join(c.replace("|", r"\|") for c in row) + " |\n"
        for row in (headers, rule, *rows)
    )


def to_latex(grid: Grid) -> str:
    """A booktabs table in \\small with 4pt column gaps, every header and cell escaped: a
    tabular, or past PAGE_ROWS rows a longtable, which breaks across pages, header repeated."""
    headers, rows, right = grid
    tex = [" & ".join(c.translate(LATEX) for c in row) + r" \\" for row in (headers, *rows)]
    spec = "".join("r" if r else "l" for r in right)
    env = "longtable" if len(rows) > PAGE_ROWS else "tabular"
    needs = r"\usepackage{booktabs}" + (
        r" and \usepackage{longtable}" if env == "longtable" else ""
    )
    lines = [
        f"% genbench results; needs {needs}",
        r"{\small\setlength{\tabcolsep}{4pt}%",
        rf"\begin{{{env}}}{{{spec}}}",
        r"\toprule",
        tex[0],
        r"\midrule",
    ]
    if env == "longtable":
        lines += [r"\endhead"]
    lines += [*tex[1:], r"\bottomrule", rf"\end{{{env}}}}}"]
    return "\n".join(lines) + "\n"


def render(
    table: pd.DataFrame,
    fmt: str,
    columns: Sequence[str] | None = None,
    every: bool = False,
    warn: Callable[[str], None] = warn_stderr,
) -> str:
    """The stored runs in format `fmt`: the chosen `columns`, with `every` all of them, else the
    default view, fitted to WIDTH characters (in LaTeX, a portrait page's text width)."""
    default = columns is None and not every
    view = select(table, list(table.columns) if every else columns or default_columns(table, fmt))
    if fmt == "csv":
        return to_csv(view)
    if fmt == "json":
        return to_json(view)
    if fmt == "markdown":
        return to_markdown(grid(view))
    latex = fmt == "latex"
    cells = fit(view, LATEX_WIDTH if latex else WIDTH, warn, not latex) if default else grid(view)
    return to_latex(cells) if fmt == "latex" else to_text(cells)
