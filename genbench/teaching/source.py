"""Student files as text: made from genbench's own functions (stubs, reference, planted bugs),
and read without running them (syntax, banned names, which tasks were attempted)."""

from __future__ import annotations

import ast
import textwrap

from genbench.errors import GenbenchError
from genbench.teaching.spec import Assignment, Bug, Task, source_of

NOT_IMPLEMENTED = "raise NotImplementedError"


def _file(a: Assignment, bodies: list[str]) -> str:
    intro = f'"""{a.title}.\n\n'
    intro += textwrap.fill(f"genbench assignment {a.name}. {a.summary}", 96) + "\n\n"
    intro += "Fill in the functions below, then run: genbench assignment check .\n" + '"""\n'
    given = [source_of(s) for s in a.support]
    parts = [intro, "\n" + a.header.rstrip() + "\n"]
    if given:
        parts.append("\n# --- given: helpers you may use -----------------------------------\n")
        parts += ["\n\n" + g for g in given]
    parts.append("\n# --- your tasks ---------------------------------------------------\n")
    parts += ["\n\n" + b for b in bodies]
    return "".join(parts)


def reference_file(a: Assignment) -> str:
    """The student file with genbench's own functions as its bodies: full marks."""
    return _file(a, [t.source() for t in a.tasks])


def stub(task: Task) -> str:
    """The task's function with its body replaced: signature and docstring kept, then a hint
    and `raise NotImplementedError`."""
    source = task.source()
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    lines = source.splitlines()
    first = node.body[0]
    has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    keep = lines[: (first.end_lineno if has_doc else first.lineno - 1)]
    indent = " " * (len(lines[-1]) - len(lines[-1].lstrip()))
    hint = textwrap.wrap(f"Hint: {task.hint}", 98 - len(indent), break_long_words=False)
    return "\n".join([*keep, *(f"{indent}# {h}" for h in hint), f"{indent}{NOT_IMPLEMENTED}", ""])


def stub_file(a: Assignment) -> str:
    return _file(a, [stub(t) for t in a.tasks])


def buggy_file(a: Assignment, bug: Bug) -> str:
    """The reference file with one planted bug in its task's function."""
    bodies = []
    for task in a.tasks:
        source = task.source()
        if task.name == bug.task:
            if source.count(bug.old) != 1:
                raise GenbenchError(
                    f"planted bug {bug.name}: '{bug.old}' occurs {source.count(bug.old)} times "
                    f"in {task.reference}, not once"
                )
            source = source.replace(bug.old, bug.new)
        bodies.append(source)
    return _file(a, bodies)


def functions(source: str) -> dict[str, ast.FunctionDef]:
    """Top-level functions of a file by name; SyntaxError propagates."""
    return {n.name: n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}


def attempted(node: ast.FunctionDef) -> bool:
    """False for a stub: a body of only a docstring, comments and `raise NotImplementedError`."""
    body = [
        s
        for s in node.body
        if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        and not isinstance(s, ast.Pass)
    ]
    only_raise = len(body) == 1 and isinstance(body[0], ast.Raise)
    return not (only_raise and "NotImplementedError" in ast.unparse(body[0]))


def _imported(node: ast.AST) -> list[str]:
    """The dotted names an import statement brings in."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def banned_uses(tree: ast.AST, banned: list[str]) -> list[str]:
    """Where `tree` names a banned callable or module ("torch.nn.functional.
    scaled_dot_product_attention", "torch.distributions", "genbench"), as messages."""
    found = set()
    for node in ast.walk(tree):
        names = _imported(node)
        for dotted in banned:
            by_attribute = (
                isinstance(node, ast.Attribute)
                and "." in dotted
                and node.attr == dotted.rsplit(".", 1)[1]
            )
            by_import = any(n == dotted or n.startswith(dotted + ".") for n in names)
            if by_attribute or by_import:
                found.add(f"line {node.lineno}: uses {dotted}, which this assignment bans")
    return sorted(found)
