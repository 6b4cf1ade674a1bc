"""Command line: argument parsing only; the work is done by the library.

Every user error (unknown name, bad override, missing data, unwritable folder) becomes one line
on stderr and exit code 2, with no traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import NoReturn

import yaml

from genbench.errors import GenbenchError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
RESULT_FORMATS = ("table", "csv", "json", "markdown", "latex")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(
            f"genbench: error: {message} (see genbench {self.prog.split()[-1]} --help)",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_USAGE)


def build_parser() -> Parser:
    parser = Parser(
        prog="genbench", description="Train and compare generative models and classifiers."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = commands.add_parser("run", help="train and score one model on one dataset")
    run.add_argument("--model", required=True, help="a registered model (genbench list)")
    run.add_argument("--dataset", required=True, help="a registered dataset (genbench list)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a preset value, e.g. --set model.latent_dim=8 (repeatable)",
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--max-epochs", type=int, help="shorthand for --set trainer.max_epochs=N")
    run.add_argument("--max-steps", type=int, help="shorthand for --set trainer.max_steps=N")
    run.add_argument(
        "--out", type=Path, default=Path("results"), help="results folder (default: results)"
    )
    run.add_argument(
        "--data-dir", type=Path, help="dataset files (default: $GENBENCH_DATA or ~/.cache/genbench)"
    )
    run.add_argument(
        "--force", action="store_true", help="retrain even if this run already finished"
    )
    run.add_argument(
        "--wait",
        action="store_true",
        help="if another process is training this run, wait for it instead of failing",
    )

    suite = commands.add_parser("suite", help="run a grid of runs: models x datasets x seeds")
    suite.add_argument(
        "spec", nargs="?", help="a suite preset (quick, digits, data-efficiency) or a YAML file"
    )
    suite.add_argument("--models", help="comma-separated models (instead of or over the spec's)")
    suite.add_argument("--datasets", help="comma-separated datasets")
    suite.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1,2")
    suite.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override for every run (repeatable)",
    )  # fmt: skip
    suite.add_argument(
        "--grid", action="append", default=[], metavar="KEY=V1,V2",
        help="sweep a key over values, e.g. --grid data.train_fraction=0.1,0.5,1 (repeatable)",
    )  # fmt: skip
    suite.add_argument("--workers", type=int, default=1, help="runs at a time (default 1)")
    suite.add_argument(
        "--threads-per-run", type=int,
        help="threads per run (default 1, so numbers do not depend on --workers)",
    )  # fmt: skip
    suite.add_argument("--backend", choices=("local", "ray"), default="local")
    suite.add_argument("--ray-address", help="Ray cluster address (default: a local instance)")
    suite.add_argument(
        "--gpus-per-run", type=float, default=0.0, help="GPUs each Ray task asks for (ray backend)"
    )
    suite.add_argument("--retry-failed", action="store_true", help="rerun runs that failed")
    suite.add_argument("--dry-run", action="store_true", help="list the runs, run nothing")
    suite.add_argument("--out", type=Path, default=Path("results"), help="results folder")

    results = commands.add_parser("results", help="print the table of stored runs")
    results.add_argument(
        "--out", type=Path, default=Path("results"), help="results folder (default: results)"
    )
    results.add_argument("--format", choices=RESULT_FORMATS, default="table")

    report = commands.add_parser("report", help="build the comparison report from stored runs")
    report.add_argument(
        "results_dir", nargs="?", type=Path, default=Path("results"), help="default: results"
    )
    report.add_argument("--out", type=Path, help="report folder (default: RESULTS_DIR/report)")

    commands.add_parser("list", help="list the registered datasets and models")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # usage errors (code 2) and --help (code 0)
        return int(exit_.code or 0)
    try:
        commands = {
            "run": cmd_run,
            "suite": cmd_suite,
            "results": cmd_results,
            "report": cmd_report,
            "list": cmd_list,
        }
        return commands[args.command](args)
    except GenbenchError as e:
        print(f"genbench: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("genbench: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


def cmd_run(args: argparse.Namespace) -> int:
    from genbench.config import resolve

    overrides = list(args.overrides)
    if args.max_epochs is not None:
        overrides.append(f"trainer.max_epochs={args.max_epochs}")
    if args.max_steps is not None:
        overrides.append(f"trainer.max_steps={args.max_steps}")
    cfg = resolve(args.model, args.dataset, args.seed, overrides)

    from genbench.runner import run

    def announce(line: str) -> None:
        print(f"genbench: {line}", file=sys.stderr, flush=True)

    outcome = run(
        cfg, args.out, data_dir=args.data_dir, force=args.force, announce=announce, wait=args.wait
    )
    if outcome is None:  # a secondary rank of a multi-process run: rank 0 reports
        return 0
    print(summary(outcome.result, outcome.directory, outcome.reused))
    return 0


def summary(result: dict, directory: Path, reused: bool) -> str:
    """A few readable lines: status, headline metrics and where the files are."""
    m = result["metrics"]
    head = f"{result['model']} on {result['dataset']} (seed {result['seed']}): {result['status']}"
    if reused:
        head += " earlier; not retrained (use --force to retrain)"
    rows: list[tuple[str, str]] = []
    if result["status"] == "diverged":
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
    if "recon_bpd" in m:
        rows.append((f"recon bpd{subset}", f"{m['recon_bpd']:.4f}"))
    if "recon_mse" in m:
        rows.append((f"recon mse{subset}", f"{m['recon_mse']:.5f}"))
    space = "pixels" if str(m.get("feature_space", "")).endswith("-pixels") else "features"
    for key, label, fmt in (
        ("accuracy", "test accuracy", ".4f"),
        ("nll", "test nll", ".4f"),
        ("ece", "test ece", ".4f"),
        ("f1_macro", "test f1 (macro)", ".4f"),
        ("fd", f"fd ({space})", ".3f"),
        ("kd", f"kd ({space})", ".3f"),
        ("precision", f"precision / recall ({space})", None),
        ("density", f"density / coverage ({space})", None),
        ("classifier_score", "classifier score", ".3f"),
        ("memorized_fraction", "memorized", ".3f"),
        ("samples_per_second", "samples / s", ",.0f"),
        ("params", "params", ","),
        ("support_vectors", "support vectors", ","),
        ("stored_examples", "stored examples", ","),
    ):
        pair = key in ("precision", "density")
        if key not in m and not (pair and "knn_not_applicable" in m):
            continue
        if pair:  # one that does not apply is n/a
            names = ("precision", "recall") if key == "precision" else ("density", "coverage")
            rows.append((label, " / ".join(f"{m[k]:.3f}" if k in m else "n/a" for k in names)))
        else:
            rows.append((label, format(m[key], fmt)))
    if "knn_not_applicable" in m:
        rows.append(("n/a because", m["knn_not_applicable"]))
    if "train_seconds" in m:
        epochs = f", best epoch {m['best_epoch'] + 1} of {m['epochs']}" if "best_epoch" in m else ""
        rows.append(("train time", f"{m['train_seconds']:.1f} s{epochs}"))
    if "fit_seconds" in m:
        rows.append(("fit / predict", f"{m['fit_seconds']:.2f} s / {m['predict_seconds']:.3f} s"))
    rows.append(("files", str(directory)))
    width = max(len(label) for label, _ in rows)
    return "\n".join([head] + [f"  {label:<{width}}  {value}" for label, value in rows])


def cmd_suite(args: argparse.Namespace) -> int:
    from genbench.suite import SuiteSpec, expand, load_spec, run_suite

    spec = load_spec(args.spec) if args.spec else SuiteSpec(models=[], datasets=[])
    if args.models:
        spec.models = args.models.split(",")
    if args.datasets:
        spec.datasets = args.datasets.split(",")
    if args.seeds:
        try:
            spec.seeds = [int(seed) for seed in args.seeds.split(",")]
        except ValueError:
            raise GenbenchError(f"--seeds takes integers like 0,1,2, got '{args.seeds}'") from None
    for text in args.grid:
        key, sep, values = text.partition("=")
        if not sep or not values:
            raise GenbenchError(
                f"bad --grid '{text}': expected key=v1,v2, e.g. data.train_fraction=0.1,1"
            )
        spec.grid[key] = [yaml.safe_load(v) for v in values.split(",")]
    if not spec.models or not spec.datasets:
        raise GenbenchError(
            "a suite needs models and datasets: name a preset or pass --models and --datasets"
        )
    if args.workers < 1:
        raise GenbenchError(f"--workers must be at least 1, got {args.workers}")
    plans, skipped = expand(spec, args.overrides)
    for note in skipped:
        print(f"genbench: skipped {note}", file=sys.stderr)
    if args.dry_run:
        for plan in plans:
            print(plan.cfg.run_id, "genbench", " ".join(plan.command))
        return 0
    from genbench.results.store import ensure_writable

    ensure_writable(args.out)
    live = sys.stderr.isatty()
    last = [0.0]

    def report(line: str) -> None:
        """Progress lines (indented) redraw in place on a terminal; in logs, one every 15 s."""
        if line.startswith("  ") and line.strip()[0].isdigit():
            if live:
                print(f"\r{line.strip()}\033[K", end="", file=sys.stderr, flush=True)
                return
            if time.perf_counter() - last[0] < 15:
                return
            last[0] = time.perf_counter()
        print(("\n" if live else "") + f"genbench: {line.strip()}", file=sys.stderr, flush=True)

    progress = run_suite(
        plans, args.out, args.workers, args.backend, args.ray_address, args.retry_failed,
        args.threads_per_run, report, args.gpus_per_run,
    )  # fmt: skip
    return 0 if progress.failed == 0 else 1


def cmd_results(args: argparse.Namespace) -> int:
    from genbench.results.store import load_results

    table = load_results(args.out)
    if table.empty:
        print(f"no runs found under {args.out / 'runs'}", file=sys.stderr)
        return 0
    if args.format == "csv":
        print(table.to_csv(index=False), end="")
    elif args.format == "json":
        print(table.to_json(orient="records", indent=2))
    elif args.format == "markdown":
        print(table.to_markdown(index=False, floatfmt=".4g"))
    elif args.format == "latex":
        print(table.to_latex(index=False, float_format="%.4g", na_rep="--"))
    else:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from genbench.report.build import build_report

    index = build_report(args.results_dir, args.out or args.results_dir / "report")
    print(f"report: {index} (and report.md beside it)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from genbench.registry import CLASSIFIERS, DATASETS, MODELS

    for title, table in (
        ("datasets", DATASETS),
        ("generative models", MODELS),
        ("classifiers", CLASSIFIERS),
    ):
        print(f"{title}:")
        width = max(map(len, table))
        for name, entry in table.items():
            print(f"  {name:<{width}}  {entry.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
