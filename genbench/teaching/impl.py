"""`genbench run --impl DIR`: the real model trained with a student's functions in place of
genbench's own. This imports the student's file into the run's process: it is for a student's
own runs, or for the grader's benchmark check, which starts it inside the sandbox."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genbench.errors import GenbenchError
from genbench.teaching import source as src
from genbench.teaching.spec import Assignment, load, names


def assignment_of(folder: Path) -> Assignment:
    """The built-in assignment whose student file the folder holds."""
    if not folder.is_dir():
        raise GenbenchError(f"--impl {folder}: not a folder")
    found = [load(n) for n in names() if (folder / load(n).student_file).is_file()]
    if len(found) != 1:
        files = ", ".join(load(n).student_file for n in names())
        raise GenbenchError(f"--impl {folder}: expected exactly one student file of {files}")
    return found[0]


def check_model(a: Assignment, model: str) -> None:
    if model not in (a.model, f"bayes-{a.model}"):
        raise GenbenchError(
            f"--impl with {a.student_file} replaces {a.model}'s functions; use --model {a.model}"
            + (f" or bayes-{a.model}" if a.model != "naive-bayes" else "")
        )


def record(folder: Path, a: Assignment) -> dict[str, Any]:
    """What the result stores about the implementation: which file, its hash, its functions."""
    path = folder / a.student_file
    text = path.read_text()
    try:
        defined = src.functions(text)
    except SyntaxError as e:
        raise GenbenchError(f"{path}: syntax error at line {e.lineno}: {e.msg}") from None
    missing = [t.name for t in a.tasks if t.name not in defined]
    stubs = [t.name for t in a.tasks if t.name in defined and not src.attempted(defined[t.name])]
    if missing or stubs:
        raise GenbenchError(
            f"{path}: implement {', '.join(missing + stubs)} first "
            f"(genbench assignment check {folder})"
        )
    return {
        "assignment": a.name,
        "file": str(path.resolve()),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "functions": [t.name for t in a.tasks],
    }


@contextlib.contextmanager
def student_functions(impl: dict[str, Any]) -> Iterator[None]:
    """genbench's reference functions replaced by the student's while the block runs."""
    a = load(impl["assignment"])
    spec = importlib.util.spec_from_file_location(f"student_{a.name}", impl["file"])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise GenbenchError(f"{impl['file']}: {type(e).__name__}: {e}") from None
    saved = []
    for task in a.tasks:
        target, _, name = task.reference.partition(":")
        owner = importlib.import_module(target)
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, getattr(module, task.name))
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)
