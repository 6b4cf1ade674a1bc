"""Grading: run an assignment's checks on a submission (public, or public and hidden), score
them, and write Gradescope's results.json; a batch of submissions; the assignment self-test.

The grader never imports the submission: each check calls the student's functions in the
sandbox and compares their outputs with genbench's reference here. A task whose checks failed is
replaced by the reference while the tasks that call it are graded, so no mistake costs twice.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from genbench.errors import GenbenchError
from genbench.teaching import source as src
from genbench.teaching.checks import Check, CheckFailed, Context, Student, student_error_message
from genbench.teaching.sandbox import Limits, Sandbox, StudentError, protections_record
from genbench.teaching.spec import Assignment

PUBLIC_SEED = 0  # public checks' inputs: students can reproduce them with `check`
SECRET_ENV = "GENBENCH_GRADER_SECRET"  # mixed into the hidden checks' seed when set


@dataclass
class CheckResult:
    name: str
    task: str
    kind: str
    hidden: bool
    max_score: float
    score: float = 0.0
    status: str = "failed"  # passed | failed | not attempted
    output: str = ""


@dataclass
class Grade:
    assignment: str
    submission: str
    results: list[CheckResult] = field(default_factory=list)
    protections: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(r.score for r in self.results)

    @property
    def max_score(self) -> float:
        return sum(r.max_score for r in self.results)

    def task_score(self, task: str) -> tuple[float, float]:
        rows = [r for r in self.results if r.task == task]
        return sum(r.score for r in rows), sum(r.max_score for r in rows)

    def gradescope(self) -> dict[str, Any]:
        """Gradescope's results.json: hidden checks by name, points and message only."""
        return {
            "score": round(self.score, 4),
            "execution_time": round(self.seconds, 1),
            "output": f"{self.assignment}: {self.score:g} / {self.max_score:g} points",
            "tests": [
                {
                    "name": f"{r.task}: {r.name} ({r.kind}{', hidden' if r.hidden else ''})",
                    "score": r.score,
                    "max_score": r.max_score,
                    "status": "passed" if r.status == "passed" else "failed",
                    "output": r.output,
                    "visibility": "after_published" if r.hidden else "visible",
                }
                for r in self.results
            ],
            "extra_data": {"protections": self.protections},
        }


def reference_namespace(a: Assignment) -> SimpleNamespace:
    """genbench's own functions under the task names: what `ctx.reference` calls."""
    return SimpleNamespace(**{t.name: t.function() for t in a.tasks})


def hidden_seed(text: str) -> int:
    """The hidden checks' seed: from the submission itself (and the grader's secret, when set),
    so no student folder holds it and hard-coded outputs cannot match."""
    secret = os.environ.get(SECRET_ENV, "")
    return int(hashlib.sha256(f"{secret}\0{text}".encode()).hexdigest()[:15], 16)


def grade(
    submission: Path,
    a: Assignment,
    hidden: bool = True,
    benchmark: bool = True,
    tasks: list[str] | None = None,
    limits: Limits | None = None,
) -> Grade:
    """Score one submission folder. `tasks` limits grading to those tasks (the self-test)."""
    started = time.perf_counter()
    limits = limits or Limits()
    checks = [c for c in a.checks() if hidden or not c.hidden]
    if tasks is not None:
        checks = [c for c in checks if c.task in tasks]
    result = Grade(a.name, str(submission))
    results = {c: CheckResult(c.name, c.task, c.kind, c.hidden, c.points) for c in checks}
    result.results = list(results.values())
    if benchmark and a.benchmark is not None and tasks is None:
        bench = CheckResult(
            "benchmark", "benchmark", "benchmark", a.benchmark.hidden, a.benchmark.points
        )
        result.results.append(bench)
    else:
        bench = None

    file = submission / a.student_file
    text = file.read_text(errors="replace") if file.is_file() else None
    problems = _static_problems(text, a)
    attempted = {t.name for t in a.tasks if problems.get(t.name) is None}
    seed = hidden_seed(text or "")
    failed: set[str] = set()
    config = {
        "student_file": a.student_file,
        "banned_callables": a.banned_callables(),
        "forbidden_modules": a.banned_modules(),
    }
    reference = reference_namespace(a)
    sandbox = Sandbox(submission, config, limits) if attempted else None
    try:
        for task in a.tasks:
            own = [c for c in checks if c.task == task.name]
            if task.name not in attempted:
                failed.add(task.name)
                for c in own:
                    status, message = problems[task.name]
                    results[c].status, results[c].output = status, message
                continue
            assert sandbox is not None
            sandbox.replace([a.task(r).source() for r in task.requires if r in failed])
            notes = [r for r in task.requires if r in failed]
            for c in own:
                _run(c, results[c], sandbox, reference, seed if c.hidden else PUBLIC_SEED)
                if notes and results[c].status != "passed":
                    results[c].output += f" (graded with the reference {', '.join(notes)})"
            if any(results[c].status != "passed" for c in own):
                failed.add(task.name)
        if bench is not None:
            _benchmark(bench, a, submission, text, failed, sandbox, limits)
    finally:
        result.protections = protections_record(sandbox, limits)
        if sandbox is not None:
            if sandbox.violations:
                result.protections["violations"] = sorted(set(sandbox.violations))
            sandbox.cleanup()
    result.seconds = time.perf_counter() - started
    return result


def _static_problems(text: str | None, a: Assignment) -> dict[str, tuple[str, str] | None]:
    """Per task, why it cannot be run (status, message), or None: read without running it."""
    if text is None:
        return {
            t.name: ("failed", f"{a.student_file} not found in the submission") for t in a.tasks
        }
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        message = f"{a.student_file} has a syntax error at line {e.lineno}: {e.msg}"
        return {t.name: ("failed", message) for t in a.tasks}
    defined = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    banned = a.banned_modules() + a.banned_callables()
    outside = [n for n in tree.body if not isinstance(n, ast.FunctionDef)]
    module_level = [u for n in outside for u in src.banned_uses(n, banned)]
    problems: dict[str, tuple[str, str] | None] = {}
    for task in a.tasks:
        node = defined.get(task.name)
        if node is None:
            problems[task.name] = ("failed", f"{task.name} is not defined in {a.student_file}")
        elif not src.attempted(node):
            problems[task.name] = ("not attempted", "not attempted (raises NotImplementedError)")
        elif uses := module_level + src.banned_uses(node, banned):
            problems[task.name] = ("failed", "; ".join(uses))
        else:
            problems[task.name] = None
    return problems


def _run(c: Check, row: CheckResult, sandbox: Sandbox, reference: Any, seed: int) -> None:
    seen = len(sandbox.violations)
    try:
        c.run(Context(Student(sandbox), reference, seed, c))
        row.status, row.score, row.output = "passed", c.points, "passed"
    except CheckFailed as e:
        row.output = str(e)
    except StudentError as e:
        row.output = student_error_message(e)
        if e.kind == "NotImplementedError":
            row.status = "not attempted"
    except Exception as e:  # the student's answer broke the check's own code (bad types)
        row.output = f"the answer could not be checked ({type(e).__name__}: {e})"
    if len(sandbox.violations) > seen:
        row.status, row.score = "failed", 0.0
        row.output = "; ".join(sorted(set(sandbox.violations[seen:])))


def _benchmark(
    row: CheckResult,
    a: Assignment,
    submission: Path,
    text: str | None,
    failed: set[str],
    sandbox: Sandbox | None,
    limits: Limits,
) -> None:
    """Train the model with the student's functions (failed ones replaced by the reference) in
    the sandbox, and check that the metric lands in the calibrated band."""
    bench = a.benchmark
    assert bench is not None
    if sandbox is None or text is None or failed >= {t.name for t in a.tasks}:
        row.output = "not run: none of your functions passed their checks yet"
        row.status = "not attempted" if sandbox is None else "failed"
        return
    sandbox.close()
    patched = text + "".join(
        f"\n\n# genbench: the reference in place of {t.name}, which failed its checks\n"
        + t.source()
        for t in a.tasks
        if t.name in failed
    )
    (sandbox.job / "student" / a.student_file).write_text(patched)
    out = sandbox.job / "io" / "results"
    command = [sys.executable, "-I", "-B", "-m", "genbench", "run", "--model", bench.model]
    command += ["--dataset", bench.dataset, "--impl", str(sandbox.job / "student")]
    command += [f"--set={o}" for o in bench.overrides] + ["--out", str(out)]
    big = Limits(
        memory_bytes=max(limits.memory_bytes, 8 << 30), cpu_seconds=int(4 * bench.timeout_seconds)
    )
    log = (sandbox.job / "benchmark.log").open("wb")
    # its own cache folder (the feature extractor, trained in the job): a submission's process
    # must never write where another grade, or the grader, would read
    cache = {"GENBENCH_CACHE": str(sandbox.job / "io" / "cache")}
    process = sandbox.popen(command, limits=big, stdout=log, stderr=log, env=cache)
    log.close()
    try:
        process.wait(timeout=bench.timeout_seconds)
    except subprocess.TimeoutExpired:
        sandbox.process = process
        sandbox.close()
        row.output = f"stopped: training took longer than {bench.timeout_seconds:g} s"
        return
    metrics = _read_metrics(out, f"{bench.model}-{bench.dataset}-")
    value = metrics.get(bench.metric) if metrics else None
    if not isinstance(value, (int, float)):
        tail = (sandbox.job / "benchmark.log").read_text(errors="replace").strip().splitlines()
        row.output = "the run did not finish: " + (tail[-1][:300] if tail else "no output")
        return
    low, high = bench.band
    replaced = f" (with the reference {', '.join(sorted(failed))})" if failed else ""
    shown = "" if row.hidden else f" {value:.4f};"
    if low <= value <= high:
        row.status, row.score = "passed", row.max_score
        row.output = f"{bench.metric}{shown} in the band [{low}, {high}]{replaced}"
    else:
        row.output = f"{bench.metric}{shown} outside the band [{low}, {high}]{replaced}"


def _read_metrics(out: Path, prefix: str) -> dict[str, Any] | None:
    """The metrics of the one run under out/runs named `prefix`..., read as plain JSON (never
    through a link: the sandbox could have planted one)."""
    runs = sorted((out / "runs").glob(f"{prefix}*/result.json")) if (out / "runs").is_dir() else []
    if len(runs) != 1 or runs[0].is_symlink():
        return None
    try:
        fd = os.open(runs[0], os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as f:
            result = json.loads(f.read(1 << 20))
        if result.get("status") != "done":
            return None
        return result["metrics"]
    except (OSError, ValueError, KeyError, AttributeError):
        return None


# --- many submissions -----------------------------------------------------------------------
def grade_batch(
    submissions: Path, a: Assignment, out: Path, workers: int, limits: Limits | None = None
) -> Path:
    """Grade every subfolder of `submissions`; out/<name>/results.json and out/grades.csv.
    A submission that breaks anything is recorded with its error; the batch goes on."""
    folders = sorted(p for p in submissions.iterdir() if p.is_dir())
    if not folders:
        raise GenbenchError(f"no submission folders in {submissions}")
    out.mkdir(parents=True, exist_ok=True)

    def one(folder: Path) -> dict[str, Any]:
        row: dict[str, Any] = {"submission": folder.name}
        try:
            g = grade(folder, a, limits=limits)
            write_results(g, out / folder.name / "results.json")
            row |= {"score": g.score, "max_score": g.max_score, "error": ""}
            row |= {t.name: g.task_score(t.name)[0] for t in a.tasks}
            if a.benchmark is not None:
                row["benchmark"] = g.task_score("benchmark")[0]
        except Exception as e:  # one broken submission never stops the batch
            row |= {"score": 0.0, "error": f"{type(e).__name__}: {e}"}
        return row

    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(one, folders))
    columns = ["submission", "score", "max_score", *(t.name for t in a.tasks)]
    columns += ["benchmark"] * (a.benchmark is not None) + ["error"]
    path = out / "grades.csv"
    with tempfile.NamedTemporaryFile("w", dir=out, delete=False, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(f.name, path)
    return path


def write_results(g: Grade, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as f:
        json.dump(g.gradescope(), f, indent=2)
    os.replace(f.name, path)
