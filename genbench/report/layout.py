"""Figure layout for the report: panels, legends below the axes, wrapped titles, and a check that
no drawn text overlaps another or runs off the figure (what a reader sees as overprinting or
clipping), from the extents matplotlib reports for each text it draws."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, no display
DPI = 100
TOLERANCE = 1.0  # pixels two boxes may share (antialiasing) before they overlap


def figure(cols: int, rows: int, size: tuple[float, float], **kwargs: Any) -> tuple[Any, Any]:
    """A constrained-layout figure of rows x cols panels, each `size` inches (no tight_layout:
    constrained layout places legends outside the axes and never warns)."""
    import matplotlib.pyplot as plt

    width, height = size[0] * cols, size[1] * rows
    return plt.subplots(
        rows, cols, figsize=(width, height), squeeze=False, layout="constrained", **kwargs
    )


def panels(count: int, max_cols: int, size: tuple[float, float]) -> tuple[Any, np.ndarray]:
    """A figure with `count` subplots in rows of at most `max_cols`; spare panels hidden."""
    cols = min(max_cols, count)
    fig, axes = figure(cols, -(-count // cols), size)
    for ax in axes.flat[count:]:
        ax.axis("off")
    return fig, axes


def wrap(text: str, width: int) -> str:
    """`text` broken into lines of at most `width` characters (a title that fits its panel)."""
    return "\n".join(textwrap.wrap(text, width)) or text


def legend_below(fig: Any, handles: list[Any], labels: list[str]) -> None:
    """One legend under the axes, in as many columns as its longest label allows; a label
    longer than the figure is wide is wrapped."""
    width_chars = int(fig.get_figwidth() * 12)  # about 12 characters of 8-point text per inch
    labels = [wrap(label, width_chars - 10) for label in labels]
    longest = max(len(line) for label in labels for line in label.split("\n")) + 6
    cols = max(1, min(len(labels), width_chars // longest))
    lines = -(-len(labels) // cols) * max(label.count("\n") + 1 for label in labels)
    fig.set_figheight(fig.get_figheight() + lines * 0.19)  # room for it, the axes kept whole
    fig.legend(handles, labels, loc="outside lower center", ncols=cols, fontsize=8, frameon=False)


def save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def drawn_texts(fig: Any) -> list[Any]:
    """Every text the figure draws: titles, labels, legend entries, annotations, and the tick
    labels inside their axis's view (matplotlib keeps others, undrawn, beyond the ends)."""
    from matplotlib.text import Text

    fig.canvas.draw()
    ticks, drawn = set(), []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            ticks |= {id(axis.label), id(axis.offsetText)}
            lo, hi = sorted(axis.get_view_interval())
            margin = (hi - lo) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                for label in (tick.label1, tick.label2):
                    ticks.add(id(label))
                    inside = lo - margin <= tick.get_loc() <= hi + margin
                    if ax.axison and inside and label.get_visible() and label.get_text():
                        drawn.append(label)
            for text in (axis.label, axis.offsetText):
                if ax.axison and text.get_visible() and text.get_text().strip():
                    drawn.append(text)
    for text in fig.findobj(Text):
        if id(text) not in ticks and text.get_visible() and text.get_text().strip():
            drawn.append(text)
    return drawn


def text_problems(fig: Any) -> list[str]:
    """'overlap: "a" and "b"' for each pair of drawn texts whose boxes overlap, 'clipped: "a"'
    for each text that runs past the figure's edge; [] for a readable figure."""
    renderer = fig.canvas.get_renderer()
    texts = drawn_texts(fig)
    boxes = [t.get_window_extent(renderer) for t in texts]
    problems = []
    edge = fig.bbox
    for text, box in zip(texts, boxes, strict=True):
        if (
            box.x0 < edge.x0 - TOLERANCE
            or box.y0 < edge.y0 - TOLERANCE
            or box.x1 > edge.x1 + TOLERANCE
            or box.y1 > edge.y1 + TOLERANCE
        ):
            problems.append(f'clipped: "{text.get_text()[:40]}"')
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            a, b = boxes[i], boxes[j]
            overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
            overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
            if overlap_x > TOLERANCE and overlap_y > TOLERANCE:
                problems.append(
                    f'overlap: "{texts[i].get_text()[:40]}" and "{texts[j].get_text()[:40]}"'
                )
    return problems
