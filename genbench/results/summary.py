"""A run's outcome in a few readable lines (what `genbench run` prints), from its record and
the metric table (genbench.evaluation.metrics)."""

from __future__ import annotations

from pathlib import Path

from genbench.evaluation.metrics import BY_NAME, METRICS, PAIRS
from genbench.results.record import RunResult


def summary(result: RunResult, directory: Path, reused: bool) -> str:
    """Status, headline metrics and where the files are."""
    m = result.metrics
    head = f"{result.model} on {result.dataset} (seed {result.seed}): {result.status}"
    if reused:
        head += " earlier; not retrained (use --force to retrain)"
    rows: list[tuple[str, str]] = []
    if result.status == "diverged":
        rows.append(("diverged at step", str(m.get("diverged_step"))))
    part = m.get("bpd_n", 0) < m.get("test_examples", 0)  # a smoke estimate on a few
    examples = f"{m['bpd_n']} examples" if part else ""
    on = f", {examples}" if part else ""
    if "bpd" in m:
        rows.append((f"test bpd ({m['bpd_kind']}{on})", f"{m['bpd']:.4f} ± {m['bpd_se']:.4f}"))
    if "bpd_iwae" in m:
        rows.append(
            (
                f"test bpd (iwae-{m['bpd_iwae_k']}{on})",
                f"{m['bpd_iwae']:.4f} ± {m['bpd_iwae_se']:.4f}",
            )
        )
    if "entropy_bpd" in m:
        rows.append(("true entropy", f"{m['entropy_bpd']:.4f}  (gap {m['entropy_gap']:+.4f})"))
    subset = f" ({examples})" if part else ""  # the reconstruction is on the likelihood's
    space = "pixels" if str(m.get("feature_space", "")).endswith("-pixels") else "features"
    pairs = {first: pair for pair in PAIRS for first in pair[:1]}
    for metric in METRICS:
        if metric.name in pairs:  # one line for the pair; one that does not apply is n/a
            names = pairs[metric.name]
            if any(n in m for n in names) or "knn_not_applicable" in m:
                values = [BY_NAME[n].format(m[n]) if n in m else "n/a" for n in names]
                rows.append((f"{' / '.join(names)} ({space})", " / ".join(values)))
            continue
        if metric.summary is None or metric.name not in m:
            continue
        label = metric.summary
        if metric.in_space:
            label += f" ({space})"
        elif metric.name.startswith("recon_"):
            label += subset
        rows.append((label, metric.format(m[metric.name])))
    if "knn_not_applicable" in m:
        rows.append(("n/a because", m["knn_not_applicable"]))
    if "sample_quality_not_applicable" in m:
        rows.append(("sample quality n/a", m["sample_quality_not_applicable"]))
    if "train_seconds" in m:
        epochs = f", best epoch {m['best_epoch']} of {m['epochs']}" if "best_epoch" in m else ""
        rows.append(("train time", f"{m['train_seconds']:.1f} s{epochs}"))
    if "fit_seconds" in m:
        rows.append(("fit / predict", f"{m['fit_seconds']:.2f} s / {m['predict_seconds']:.3f} s"))
    rows.append(("files", str(directory)))
    width = max(len(label) for label, _ in rows)
    return "\n".join([head] + [f"  {label:<{width}}  {value}" for label, value in rows])
