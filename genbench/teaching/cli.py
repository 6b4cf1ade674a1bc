"""The `genbench assignment` verbs: list, make, check, grade, selftest (argparse lives in
genbench/cli.py; this calls the library and prints)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genbench.errors import GenbenchError
from genbench.teaching.grade import grade, grade_batch, write_results
from genbench.teaching.spec import Assignment, load, names


def run_verb(args: argparse.Namespace) -> int:
    return {
        "list": verb_list,
        "make": verb_make,
        "check": verb_check,
        "grade": verb_grade,
        "selftest": verb_selftest,
    }[args.verb](args)


def verb_list(args: argparse.Namespace) -> int:
    for name in names():
        a = load(name)
        checks = a.checks()
        total = sum(c.points for c in checks) + (a.benchmark.points if a.benchmark else 0)
        print(f"{name}: {a.title} ({a.student_file}, {total:g} points)")
        for task in a.tasks:
            points = sum(c.points for c in checks if c.task == task.name)
            print(f"  {task.name:<30} {points:g} points")
        if a.benchmark:
            b = a.benchmark
            print(f"  {'benchmark':<30} {b.points:g} points ({b.model} on {b.dataset})")
    return 0


def verb_make(args: argparse.Namespace) -> int:
    from genbench.teaching.make import make

    for path in make(load(args.name), args.out):
        print(path)
    return 0


def _assignment(folder: Path, name: str | None = None) -> Assignment:
    if name is not None:
        return load(name)
    from genbench.teaching.impl import assignment_of

    return assignment_of(folder)


def verb_check(args: argparse.Namespace) -> int:
    """The public checks, a line per task; never "all tests passed" while hidden ones exist."""
    a = _assignment(args.folder)
    tasks = None
    if args.task is not None:
        tasks = [a.task(args.task).name]
    g = grade(args.folder, a, hidden=False, benchmark=False, tasks=tasks)
    for task in a.tasks:
        rows = [r for r in g.results if r.task == task.name]
        if not rows:
            continue
        passed = [r for r in rows if r.status == "passed"]
        if all(r.status == "not attempted" for r in rows):
            print(f"{task.name}: not attempted")
        elif len(passed) == len(rows):
            print(f"{task.name}: passed {len(rows)} public checks")
        else:
            first = next(r for r in rows if r.status != "passed")
            print(f"{task.name}: failed {len(rows) - len(passed)} of {len(rows)} public checks; "
                  f"{first.name}: {first.output}")  # fmt: skip
    hidden = [c for c in a.checks() if c.hidden]
    print(f"public checks: {g.score:g} / {g.max_score:g} points. {len(hidden)} hidden checks "
          f"({sum(c.points for c in hidden):g} points)"
          + (" and the benchmark" if a.benchmark else "") + " run at grading.")  # fmt: skip
    return 0


def verb_grade(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise GenbenchError(f"--workers must be at least 1, got {args.workers}")
    if (args.batch is None) == (args.folder is None):
        raise GenbenchError("grade takes one submission folder or --batch FOLDER, not both")
    if args.batch is not None:
        if not args.batch.is_dir():
            raise GenbenchError(f"--batch {args.batch}: not a folder")
        a = load(args.assignment) if args.assignment else _batch_assignment(args.batch)
        out = args.out or args.batch.with_name(args.batch.name + "-grades")
        print(grade_batch(args.batch, a, out, args.workers))
        return 0
    if not args.folder.is_dir():
        raise GenbenchError(f"{args.folder}: not a folder")
    a = _assignment(args.folder, args.assignment)
    g = grade(args.folder, a)
    if args.out is not None:
        write_results(g, args.out)
        print(f"{a.name}: {g.score:g} / {g.max_score:g} points -> {args.out}")
    else:
        json.dump(g.gradescope(), sys.stdout, indent=2)
        print()
    return 0


def _batch_assignment(batch: Path) -> Assignment:
    for folder in sorted(p for p in batch.iterdir() if p.is_dir()):
        try:
            return _assignment(folder)
        except GenbenchError:
            continue
    raise GenbenchError(f"no submission in {batch} holds a student file; pass --assignment")


def verb_selftest(args: argparse.Namespace) -> int:
    from genbench.teaching.selftest import selftest

    verdicts = selftest(load(args.name), benchmark=not args.no_benchmark)
    bad = [v for v in verdicts if not v.ok]
    print(f"{args.name}: {'self-test passed' if not bad else f'{len(bad)} problems'}")
    return 0 if not bad else 1
