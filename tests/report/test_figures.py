"""The report's figures are readable: no drawn text overlaps another or runs off the figure, and
drawing them raises no warning (matplotlib's tight-layout one included), even with many
variants with long labels."""

import json
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from genbench.report import plots
from genbench.report.interactive import efficiency_chart, pareto_chart
from genbench.report.layout import text_problems

# labels as long as the report made them before it named only what a model reads
LONG = [
    f"{model} (grid_rows=4, hidden={h}, iwae_k=10, likelihood_examples=100, n_samples=16, "
    "preset=quick, quality_samples=100)"
    for model in ("naive-bayes", "logreg", "bayes-vae", "svm", "mlp", "lda", "qda")
    for h in (64, 512)
]


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plot functions save, checked before they are closed."""
    problems: dict[str, list[str]] = {}
    save = plots.save

    def checking_save(fig, path):
        problems[path.name] = text_problems(fig)
        save(fig, path)

    monkeypatch.setattr(plots, "save", checking_save)
    return problems


def test_the_check_finds_overlapping_and_clipped_text():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.text(0.5, 0.5, "first label")
    ax.text(0.5, 0.5, "second label")
    ax.set_title("a title far too long to fit in a figure only three inches wide, clipped")
    found = text_problems(fig)
    plt.close(fig)
    assert any(p.startswith('overlap: "first label" and "second label"') for p in found)
    assert any(p.startswith('clipped: "a title far too long') for p in found)


def efficiency_runs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for label in LONG:
        for fraction, n in ((0.05, 53), (0.1, 107), (0.2, 215), (0.5, 538), (1.0, 1077)):
            for seed in (0, 1, 2):
                rows.append(
                    {
                        "variant": label,
                        "model": label.split(" ")[0],
                        "seed": seed,
                        "train_fraction": fraction,
                        "n_train": n,
                        "accuracy": 0.5 + 0.4 * fraction + rng.normal(0, 0.02),
                    }
                )
    return pd.DataFrame(rows)


def generative_summary() -> pd.DataFrame:
    summary = pd.DataFrame(
        {"fd": np.linspace(5, 300, len(LONG)), "train_seconds": np.geomspace(2, 900, len(LONG))},
        index=LONG,
    )
    return summary


def test_data_efficiency_and_pareto_plots_are_readable(tmp_path, drawn):
    references = pd.DataFrame(
        [
            {
                "model": "reference-train",
                "variant": f"reference-train ({n} samples)",
                "fd": 2.0,
                "config": {"eval": {"quality_samples": n}},
            }
            for n in (100, 1000)
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plots.data_efficiency_plot(efficiency_runs(), tmp_path / "efficiency.png")
        assert plots.pareto_plot(generative_summary(), references, tmp_path / "pareto.png", 1000)
    assert drawn == {"efficiency.png": [], "pareto.png": []}
    assert plots.training_reference(references, 100)["variant"] == "reference-train (100 samples)"


def test_curves_and_calibration_are_readable(tmp_path, drawn):
    rows = []
    for k, label in enumerate(LONG[:8]):
        run = tmp_path / f"run{k}"
        (run / "logs" / "version_0").mkdir(parents=True)
        epochs = np.arange(20)
        pd.DataFrame(
            {"epoch": epochs, "train_loss": 100 / (epochs + 1), "val_loss": 90 / (epochs + 1)}
        ).to_csv(run / "logs" / "version_0" / "metrics.csv", index=False)
        bins = [
            {
                "lower": b / 15,
                "upper": (b + 1) / 15,
                "confidence": (b + 0.5) / 15,
                "accuracy": min(1.0, (b + 1) / 15),
                "count": 2**b,
            }
            for b in range(15)
        ]
        (run / "calibration.json").write_text(json.dumps(bins))
        rows.append({"variant": label, "seed": 0, "dir": str(run), "ece": 0.0123})
    runs = pd.DataFrame(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plots.training_curves(runs, tmp_path / "curves.png")
        assert plots.calibration_plot(runs, tmp_path / "calibration.png")
    assert drawn == {"curves.png": [], "calibration.png": []}


def test_interactive_charts_hold_every_variant():
    chart = efficiency_chart(efficiency_runs(), "efficiency")
    assert chart.startswith("<div") and all(json.dumps(label) in chart for label in LONG)
    assert "Pareto front" in pareto_chart(generative_summary(), 2.0, "pareto")
