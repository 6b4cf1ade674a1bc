"""The HTML report's interactive charts (Plotly): the Pareto plot and the data-efficiency curves,
to hover, zoom and hide series. Plotly's JavaScript is written once into the report's assets,
so the page works offline; the Markdown report keeps the static PNGs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genbench.report.plots import (
    efficiency_curves,
    front_candidates,
    pareto_front,
    pareto_points,
)

SCRIPT = "assets/plotly.min.js"  # relative to the report folder
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0, "font": {"size": 11}}


def write_plotly_js(out: Path) -> str:
    """Write Plotly's bundled JavaScript into the report folder; return its relative path."""
    from plotly.offline import get_plotlyjs

    (out / SCRIPT).write_text(get_plotlyjs(), encoding="utf-8")
    return SCRIPT


def chart(fig: object, name: str, title: str, x_title: str, y_title: str) -> str:
    """The chart laid out (log x axis, legend below) as an HTML <div> with its script, Plotly
    itself loaded by the page."""
    fig.update_layout(  # type: ignore[attr-defined]
        title=title,
        xaxis={"type": "log", "title": f"{x_title} (log scale)"},
        yaxis={"title": y_title},
        legend=LEGEND_BELOW,
        height=520,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return fig.to_html(  # type: ignore[attr-defined]
        full_html=False, include_plotlyjs=False, div_id=name, config={"responsive": True}
    )


def pareto_chart(summary: pd.DataFrame, reference_fd: float | None, name: str) -> str | None:
    """FD against training seconds, one hoverable point per variant (hollow: smoke or
    diverged), the front of the full runs joined."""
    import plotly.graph_objects as go

    points = pareto_points(summary)
    if len(points) < 2:
        return None
    fig = go.Figure()
    full = front_candidates(points)
    for variant, row in points.iterrows():
        hover = f"{variant}<br>FD {row['fd']:.3f}<br>{row['train_seconds']:.1f} s"
        fig.add_trace(
            go.Scatter(
                x=[row["train_seconds"]],
                y=[row["fd"]],
                mode="markers",
                name=str(variant),
                hovertext=[hover],
                hoverinfo="text",
                marker={"size": 10, "symbol": "circle" if variant in full.index else "circle-open"},
            )
        )
    if len(full):
        front = pareto_front(full)
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in front],
                y=[p[1] for p in front],
                mode="lines",
                name="Pareto front (full runs)",
                line={"dash": "dash", "color": "red"},
            )
        )
    if reference_fd is not None:
        fig.add_hline(
            y=reference_fd,
            line_dash="dot",
            line_color="gray",
            annotation_text="training images",
            annotation_position="bottom right",
        )
    return chart(fig, name, "Sample quality against training time", "training seconds", "FD ↓")


def efficiency_chart(runs: pd.DataFrame, name: str) -> str | None:
    """Test accuracy against training examples per variant, generative classifiers dashed."""
    import plotly.graph_objects as go

    curves = efficiency_curves(runs)
    if not curves:
        return None
    fig = go.Figure()
    for variant, generative, stats in curves:
        fig.add_trace(
            go.Scatter(
                x=stats["n_train"],
                y=stats["mean"],
                mode="lines+markers",
                name=variant,
                line={"dash": "dash" if generative else "solid"},
                error_y={"type": "data", "array": stats["std"].fillna(0)},
            )
        )
    title = "Accuracy against training-set size (dashed: generative classifiers)"
    return chart(fig, name, title, "training examples", "test accuracy ↑")
