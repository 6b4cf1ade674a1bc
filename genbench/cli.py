"""Command line: argument parsing only; the work is done by the library.

Every user error (unknown name, bad override, missing data, unwritable folder) becomes one line
on stderr and exit code 2, with no traceback. An unexpected error (a bug) exits with code 1 and one
line saying where its full traceback was saved (genbench.exits).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import NoReturn

import yaml

from genbench.errors import GenbenchError
from genbench.exits import EXIT_USAGE, guarded

RESULT_FORMATS = ("table", "csv", "json", "markdown", "latex")
DATA_DIR_HELP = "dataset files (default: $GENBENCH_DATA, else $GENBENCH_CACHE or ~/.cache/genbench)"


def folder(text: str) -> Path:
    """A folder (or file) argument; an empty one would silently mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a path, not empty")
    return Path(text)


def count(text: str) -> int:
    """An integer >= 1 (workers, threads)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, not '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, not {value}")
    return value


def share(text: str) -> float:
    """A number >= 0 (GPUs per Ray task, which may be a fraction of one)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not '{text}'") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {value}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"genbench: error: {message} (see {self.prog} --help)", file=sys.stderr)
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
        "--out", type=folder, default=Path("results"), help="results folder (default: results)"
    )
    run.add_argument(
        "--data-dir",
        type=folder,
        help=DATA_DIR_HELP,
    )
    run.add_argument(
        "--force", action="store_true", help="retrain even if this run already finished"
    )
    run.add_argument(
        "--impl",
        type=folder,
        metavar="DIR",
        help="a student folder of an assignment: train with its functions in place of genbench's",
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
    suite.add_argument("--workers", type=count, default=1, help="runs at a time (default 1)")
    suite.add_argument(
        "--threads-per-run", type=count,
        help="threads per run (default 1, so numbers do not depend on --workers)",
    )  # fmt: skip
    suite.add_argument("--backend", choices=("local", "ray"), default="local")
    suite.add_argument("--ray-address", help="Ray cluster address (default: a local instance)")
    suite.add_argument(
        "--gpus-per-run", type=share, default=0.0, help="GPUs each Ray task asks for (ray backend)"
    )
    suite.add_argument("--retry-failed", action="store_true", help="rerun runs that failed")
    suite.add_argument("--dry-run", action="store_true", help="list the runs, run nothing")
    suite.add_argument("--out", type=folder, default=Path("results"), help="results folder")

    results = commands.add_parser("results", help="print the table of stored runs")
    results.add_argument(
        "--out", type=folder, default=Path("results"), help="results folder (default: results)"
    )
    results.add_argument("--format", choices=RESULT_FORMATS, default="table")
    which = results.add_mutually_exclusive_group()
    which.add_argument(
        "--columns", help="the columns to show, e.g. id,model,bpd,epochs (run_id, metric names)"
    )
    which.add_argument("--all", action="store_true", help="every column")

    report = commands.add_parser("report", help="build the comparison report from stored runs")
    report.add_argument(
        "results_dir", nargs="?", type=folder, default=Path("results"), help="default: results"
    )
    report.add_argument("--out", type=folder, help="report folder (default: RESULTS_DIR/report)")

    commands.add_parser("list", help="list the registered datasets and models")
    add_stored_run_parsers(commands)
    add_assignment_parser(commands)
    return parser


def add_stored_run_parsers(commands: argparse._SubParsersAction) -> None:
    """`sample` and `reproduce`: commands on a run already in the store, named by its id."""
    sample = commands.add_parser("sample", help="draw samples from a stored run's checkpoint")
    sample.add_argument("run_id", help="a stored run's id, or the start of it (genbench results)")
    sample.add_argument("-n", type=count, default=64, help="samples to draw (default 64)")
    sample.add_argument("--out", type=folder, help="the PNG grid (default samples-RUN-sSEED.png)")
    sample.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="a sampling-only model key, e.g. --set model.temperature=0.8 (repeatable)",
    )  # fmt: skip
    sample.add_argument("--seed", type=int, default=0, help="the draw (default 0)")
    reproduce = commands.add_parser("reproduce", help="rerun a stored run and compare metrics")
    reproduce.add_argument("run_id", help="a stored run's id, or the start of it")
    reproduce.add_argument(
        "--out", type=folder, help="results folder of the rerun (default RESULTS/reproduce/RUN)"
    )
    for command in (sample, reproduce):
        command.add_argument(
            "--results", type=folder, default=Path("results"),
            help="the results folder the run is stored in (default: results)",
        )  # fmt: skip
        command.add_argument(
            "--data-dir",
            type=folder,
            help=DATA_DIR_HELP,
        )


def add_assignment_parser(commands: argparse._SubParsersAction) -> None:
    assignment = commands.add_parser("assignment", help="course assignments: make, check, grade")
    verbs = assignment.add_subparsers(dest="verb", required=True, parser_class=Parser)
    verbs.add_parser("list", help="the built-in assignments, their tasks and points")
    make = verbs.add_parser("make", help="write the student folder of an assignment")
    make.add_argument("name")
    make.add_argument("--out", type=folder, required=True, help="the student folder to create")
    check = verbs.add_parser("check", help="run the public checks on a student folder")
    check.add_argument("folder", type=folder)
    check.add_argument("--task", help="check one task only")
    grade = verbs.add_parser("grade", help="grade a submission (public and hidden checks)")
    grade.add_argument("folder", type=folder, nargs="?", help="one submission folder")
    grade.add_argument("--assignment", help="the assignment (default: from the student file)")
    grade.add_argument("--out", type=folder, help="results.json, or with --batch a folder")
    grade.add_argument("--batch", type=folder, help="a folder of submission folders")
    grade.add_argument("--workers", type=count, default=1, help="submissions graded at a time")
    selftest = verbs.add_parser("selftest", help="reference full, stubs 0, planted bugs caught")
    selftest.add_argument("name")
    selftest.add_argument("--no-benchmark", action="store_true", help="skip the training run")


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # usage errors (code 2) and --help (code 0)
        return int(exit_.code or 0)
    commands = {
        "run": cmd_run,
        "suite": cmd_suite,
        "results": cmd_results,
        "report": cmd_report,
        "list": cmd_list,
        "sample": cmd_sample,
        "reproduce": cmd_reproduce,
        "assignment": cmd_assignment,
    }
    return guarded(lambda: commands[args.command](args), argv)


def cmd_run(args: argparse.Namespace) -> int:
    from genbench.config import resolve

    overrides = list(args.overrides)
    if args.max_epochs is not None:
        overrides.append(f"trainer.max_epochs={args.max_epochs}")
    if args.max_steps is not None:
        overrides.append(f"trainer.max_steps={args.max_steps}")
    impl = None
    if args.impl is not None:
        from genbench.teaching.impl import assignment_of, check_model, record

        assignment = assignment_of(args.impl)
        check_model(assignment, args.model)
        impl = record(args.impl, assignment)
        overrides = [*assignment.run_overrides, *overrides]

    from genbench.results.summary import summary

    if impl is None and not args.force:  # a finished run: found and reported without torch
        from genbench.run.stored import finished_run

        found = finished_run(args.out, args.model, args.dataset, args.seed, overrides)
        if found is not None:
            print(summary(found[1], found[0], reused=True))
            return 0
    cfg = resolve(args.model, args.dataset, args.seed, overrides)
    cfg.impl = impl

    from genbench.run.execute import announce_stderr as announce
    from genbench.run.execute import run

    if impl is not None:
        from genbench.teaching.impl import student_functions

        announce(f"with {impl['file']} in place of genbench's {', '.join(impl['functions'])}")
        students: contextlib.AbstractContextManager = student_functions(impl)
    else:
        students = contextlib.nullcontext()
    with students:
        outcome = run(
            cfg, args.out, data_dir=args.data_dir, force=args.force, announce=announce,
            wait=args.wait,
        )  # fmt: skip
    if outcome is None:  # a secondary rank of a multi-process run: rank 0 reports
        return 0
    print(summary(outcome.record, outcome.directory, outcome.reused))
    return 0


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
    from genbench.results import table as results
    from genbench.results.store import load_results, warn_stderr

    damaged: list[str] = []  # named after --columns is checked: a bad name is one line
    table = load_results(args.out, damaged.append)
    columns = None if args.columns is None else results.parse_columns(args.columns, table.columns)
    for warning in damaged:
        warn_stderr(warning)
    if table.empty:
        print(f"no runs found under {args.out / 'runs'}", file=sys.stderr)
        return 0
    print(results.render(table, args.format, columns, args.all), end="")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from genbench.report.build import build_report

    index = build_report(args.results_dir, args.out or args.results_dir / "report")
    print(f"report: {index} (and report.md beside it)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from genbench.config import family_presets
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
    print("model presets per dataset family (configs/models/<family>/<model>.yaml, layered on the")
    print("model's own preset for the family's datasets):")
    for family, models in family_presets().items():
        datasets = [name for name, entry in DATASETS.items() if entry.family == family]
        print(f"  {family} ({', '.join(datasets)}): {', '.join(models) or 'none'}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from genbench.run.sample import sample_run

    done = sample_run(
        args.results, args.run_id, args.n, args.seed, args.overrides, args.out, args.data_dir
    )
    settings = "".join(f", {o}" for o in args.overrides)
    print(f"{done.n} samples of {done.record.run_id} (seed {done.seed}{settings}): {done.out}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from genbench.run.execute import announce_stderr
    from genbench.run.reproduce import report, reproduce_run

    result = reproduce_run(args.results, args.run_id, args.out, args.data_dir, announce_stderr)
    print(report(result))
    return 1 if result.differing else 0


def cmd_assignment(args: argparse.Namespace) -> int:
    from genbench.teaching.cli import run_verb

    return run_verb(args)


if __name__ == "__main__":
    sys.exit(main())
