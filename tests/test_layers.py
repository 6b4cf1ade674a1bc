"""The one-way architecture: the low layers (models/, nets/, evaluation/) import nothing from the
layers above them (config, classifiers, suite, report), directly or through another module."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "genbench"
LOW = ("genbench.models", "genbench.nets", "genbench.evaluation")
HIGH = ("genbench.config", "genbench.classifiers", "genbench.suite", "genbench.report")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """genbench modules `name` imports anywhere in its file (inside functions and
    TYPE_CHECKING blocks too): `from genbench import x` counts as genbench.x."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {m for m in found if m in MODULES}


def reached(name: str) -> dict[str, list[str]]:
    """Every genbench module `name` imports, directly or not, with one import chain to it."""
    chains = {name: [name]}
    todo = [name]
    while todo:
        current = todo.pop()
        for imported in imports(current):
            if imported not in chains:
                chains[imported] = [*chains[current], imported]
                todo.append(imported)
    return chains


def is_in(module: str, layers: tuple[str, ...]) -> bool:
    return any(module == layer or module.startswith(layer) for layer in layers)


@pytest.mark.parametrize("name", sorted(m for m in MODULES if is_in(m, LOW)))
def test_low_layers_import_nothing_from_above(name):
    bad = {m: chain for m, chain in reached(name).items() if is_in(m, HIGH)}
    assert not bad, " ; ".join(" -> ".join(chain) for chain in bad.values())


def test_the_scan_sees_imports():
    """The scan itself finds what is there (a scan that saw nothing would pass everything)."""
    assert "genbench.config" in reached("genbench.runner")
    assert "genbench.training" in reached("genbench.models.base")
