"""An assignment is trustworthy only when its self-test passes: the reference scores full
points, the untouched stubs score 0 without crashing, and every planted bug is caught on the
task it breaks, by a check whose message points at it."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from genbench.teaching import source as src
from genbench.teaching.grade import Grade, grade
from genbench.teaching.spec import Assignment


@dataclass
class Verdict:
    what: str
    ok: bool
    detail: str


def dependents(a: Assignment, task: str) -> list[str]:
    """`task` and every task that calls it, directly or not."""
    found = [task]
    for t in a.tasks:
        if any(r in found for r in t.requires) and t.name not in found:
            found.append(t.name)
    return found


def _grade_text(a: Assignment, text: str, **kwargs) -> Grade:
    with tempfile.TemporaryDirectory(prefix="genbench-selftest-") as folder:
        (Path(folder) / a.student_file).write_text(text)
        return grade(Path(folder), a, **kwargs)


def selftest(
    a: Assignment, benchmark: bool = True, say: Callable[[str], None] = print
) -> list[Verdict]:
    verdicts = []

    def record(v: Verdict) -> None:
        verdicts.append(v)
        say(f"{'ok  ' if v.ok else 'FAIL'} {v.what}: {v.detail}")

    g = _grade_text(a, src.reference_file(a), benchmark=benchmark)
    wrong = [f"{r.task}/{r.name}: {r.output}" for r in g.results if r.status != "passed"]
    record(Verdict("reference", not wrong, f"{g.score:g} / {g.max_score:g}" + "".join(
        f"\n       {w}" for w in wrong)))  # fmt: skip
    g = _grade_text(a, src.stub_file(a), benchmark=benchmark)
    record(Verdict("stubs", g.score == 0, f"{g.score:g} / {g.max_score:g}"))
    for bug in a.bugs:
        g = _grade_text(a, src.buggy_file(a, bug), benchmark=False, tasks=dependents(a, bug.task))
        lost = [r for r in g.results if r.task == bug.task and r.status != "passed"]
        pointed = [r for r in lost if bug.caught_by.lower() in r.output.lower()]
        score, top = g.task_score(bug.task)
        detail = f"{bug.task} {score:g} / {top:g}"
        if lost and not pointed:
            detail += f"; no message mentions '{bug.caught_by}': {lost[0].output}"
        elif pointed:
            detail += f"; {pointed[0].name}: {pointed[0].output}"
        record(Verdict(f"bug {bug.name}", bool(pointed) and score < top, detail))
    return verdicts
