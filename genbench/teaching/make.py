"""The student folder of an assignment: the student file (stubs), ASSIGNMENT.md and a thin
ASSIGNMENT.ipynb that imports the file. Nothing of the hidden checks, the reference answers or
the planted bugs goes in."""

from __future__ import annotations

import json
from pathlib import Path

from genbench.errors import GenbenchError
from genbench.teaching import source as src
from genbench.teaching.spec import Assignment


def instructions(a: Assignment) -> str:
    """ASSIGNMENT.md: the ordered checklist, how to check, how to benchmark."""
    public = [c for c in a.checks() if not c.hidden]
    hidden = [c for c in a.checks() if c.hidden]
    lines = [f"# {a.title}", "", a.summary, "", "## Tasks, in order", ""]
    for i, task in enumerate(a.tasks, 1):
        points = sum(c.points for c in a.checks() if c.task == task.name)
        calls = f" (uses {', '.join(task.requires)})" if task.requires else ""
        lines.append(f"{i}. [ ] `{task.name}` in `{a.student_file}`, {_points(points)}{calls}")
    if a.benchmark is not None:
        b = a.benchmark
        lines.append(
            f"{len(a.tasks) + 1}. [ ] benchmark, {_points(b.points)}: your functions train "
            f"`{b.model}` on {b.dataset}; its {b.metric} must land in [{b.band[0]}, {b.band[1]}]"
        )
    lines += [
        "",
        "Each function's docstring gives its shapes and equation; keep the signatures.",
        "",
        "## Check your work",
        "",
        "```",
        "genbench assignment check .            # every task",
        f"genbench assignment check . --task {a.tasks[0].name}",
        "```",
        "",
        f"The public checks ({len(public)}, {sum(c.points for c in public):g} points):",
        "",
    ]
    lines += [f"- `{c.task}`: {c.name.replace('_', ' ')} ({c.kind}, {c.points:g})" for c in public]
    lines += [
        "",
        f"At grading, {len(hidden)} hidden checks ({sum(c.points for c in hidden):g} points) run "
        "too, on inputs you cannot see: passing the public checks is not a promise of full marks.",
        "",
        "## Run the real model with your functions",
        "",
        "```",
        f"genbench run --model {a.model} --dataset digits --impl . --set trainer.preset=quick",
        "```",
        "",
    ]
    return "\n".join(lines)


def _points(points: float) -> str:
    return f"{points:g} point" + ("" if points == 1 else "s")


def notebook(a: Assignment) -> dict:
    """A thin notebook front-end: the .py file stays the one source of truth."""
    module = a.student_file.removesuffix(".py")

    def cell(kind: str, text: str) -> dict:
        c = {"cell_type": kind, "metadata": {}, "source": text}
        return c | ({"outputs": [], "execution_count": None} if kind == "code" else {})

    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": [
            cell("markdown", f"# {a.title}\n\nWrite your code in `{a.student_file}`; this "
                 "notebook only imports it (reloaded on every run), so edit the file."),
            cell("code", f"%load_ext autoreload\n%autoreload 2\nimport {module}"),
            cell("code", "!genbench assignment check ."),
            cell("code", f"!genbench run --model {a.model} --dataset digits --impl . "
                 "--set trainer.preset=quick"),
        ],
    }  # fmt: skip


def make(a: Assignment, out: Path) -> list[Path]:
    """Write the student folder; refuses to overwrite a student's files."""
    files = {
        out / a.student_file: src.stub_file(a),
        out / "ASSIGNMENT.md": instructions(a),
        out / "ASSIGNMENT.ipynb": json.dumps(notebook(a), indent=1) + "\n",
    }
    existing = [p.name for p in files if p.exists()]
    if existing:
        raise GenbenchError(
            f"{out} already holds {', '.join(existing)}; choose another --out (nothing written)"
        )
    out.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    return list(files)
