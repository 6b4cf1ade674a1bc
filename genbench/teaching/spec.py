"""Assignments: what each one asks for, read from its spec file.

An assignment is three things in genbench/teaching/assignments/ (see README.md there):
  <name>.yaml  the spec: student file, tasks (each a genbench function, the reference), points
               of the benchmark, planted bugs (teacher material);
  <module>.py  its checks (functions decorated with `check`, see checks.py);
and the reference functions themselves, which are genbench's own code.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from genbench.errors import GenbenchError, unknown_choice
from genbench.registry import Entry

FOLDER = Path(__file__).with_name("assignments")


@dataclass(frozen=True)
class Task:
    """One function the student writes; its reference is the genbench function `reference`."""

    name: str
    reference: str  # "module:function"
    hint: str
    requires: tuple[str, ...] = ()  # tasks whose functions this one calls

    def function(self) -> Any:
        return Entry(self.reference, self.hint).load()

    def source(self) -> str:
        return source_of(self.reference)


@dataclass(frozen=True)
class Bug:
    """A planted bug: the reference with `old` replaced by `new` in one task's function; the
    self-test requires it to fail a check of `task` whose message contains `caught_by`."""

    name: str
    task: str
    old: str
    new: str
    caught_by: str


@dataclass(frozen=True)
class Benchmark:
    """A short seeded `genbench run --impl` whose metric must fall in a calibrated band."""

    model: str
    dataset: str
    overrides: tuple[str, ...]
    metric: str
    band: tuple[float, float]
    calibration: str  # how the band was measured
    points: float
    timeout_seconds: float
    hidden: bool = False


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    summary: str
    student_file: str
    model: str  # what `genbench run --model M --impl DIR` trains with the student's functions
    run_overrides: tuple[str, ...]  # settings an --impl run needs (e.g. explicit attention)
    header: str  # the student file's imports
    support: tuple[str, ...]  # reference helpers given in full ("module:function")
    tasks: tuple[Task, ...]
    banned: tuple[str, ...]  # dotted names of callables or modules the student may not use
    checks_module: str
    benchmark: Benchmark | None
    bugs: tuple[Bug, ...] = field(default=())

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise unknown_choice("task", name, [t.name for t in self.tasks])

    def checks(self) -> list[Any]:
        """The Check objects of this assignment, in the order they are declared."""
        module = importlib.import_module(self.checks_module)
        return list(module.CHECKS)

    def banned_modules(self) -> list[str]:
        return ["genbench", *(b for b in self.banned if _is_module(b))]

    def banned_callables(self) -> list[str]:
        return [b for b in self.banned if not _is_module(b)]


def source_of(reference: str) -> str:
    """The source text of the genbench function at "module:function"."""
    return inspect.getsource(Entry(reference, "").load())


def _is_module(dotted: str) -> bool:
    try:
        importlib.import_module(dotted)
    except ImportError:
        return False
    return True


def names() -> list[str]:
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


@cache
def load(name: str) -> Assignment:
    """The built-in assignment `name`; a GenbenchError names the choices."""
    path = FOLDER / f"{name}.yaml"
    if not path.is_file():
        raise unknown_choice("assignment", name, names())
    try:
        raw = yaml.safe_load(path.read_text())
        bench = raw.get("benchmark")
        return Assignment(
            name=name,
            title=raw["title"],
            summary=raw["summary"].strip(),
            student_file=raw["student_file"],
            model=raw["model"],
            run_overrides=tuple(raw.get("run_overrides", [])),
            header=raw["header"],
            support=tuple(raw.get("support", [])),
            tasks=tuple(
                Task(t["name"], t["reference"], t["hint"], tuple(t.get("requires", [])))
                for t in raw["tasks"]
            ),
            banned=tuple(raw.get("banned", [])),
            checks_module=raw["checks"],
            benchmark=None
            if bench is None
            else Benchmark(
                model=bench["model"],
                dataset=bench["dataset"],
                overrides=tuple(bench["overrides"]),
                metric=bench["metric"],
                band=(float(bench["band"][0]), float(bench["band"][1])),
                calibration=bench["calibration"],
                points=float(bench["points"]),
                timeout_seconds=float(bench["timeout_seconds"]),
                hidden=bool(bench.get("hidden", False)),
            ),
            bugs=tuple(
                Bug(b["name"], b["task"], b["old"], b["new"], b["caught_by"])
                for b in raw.get("bugs", [])
            ),
        )
    except (KeyError, TypeError, yaml.YAMLError) as e:
        raise GenbenchError(f"{path}: not a valid assignment spec ({e!r})") from None
