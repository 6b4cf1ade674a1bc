"""A suite's spec: what to run, from a preset (configs/suites/NAME.yaml) or a YAML file, each key
checked against its type when the file is read."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genbench.config import CONFIG_DIR
from genbench.errors import GenbenchError, unknown_choice

SUITE_KEYS = ("description", "models", "datasets", "seeds", "set", "per_model", "grid")


@dataclass
class SuiteSpec:
    """What to run: every model on every dataset with every seed and every grid combination,
    each with the `set` overrides, then the model's own `per_model` overrides."""

    models: list[str]
    datasets: list[str]
    seeds: list[int] = field(default_factory=lambda: [0])
    set: list[str] = field(default_factory=list)
    per_model: dict[str, list[str]] = field(default_factory=dict)  # overrides for one model
    grid: dict[str, list[Any]] = field(default_factory=dict)
    description: str = ""


def load_spec(name_or_path: str) -> SuiteSpec:
    """A suite preset by name (configs/suites/NAME.yaml) or a YAML file's path; a file that is
    not a YAML mapping of the suite keys, each of its type, is refused naming file and key."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / "suites" / f"{name_or_path}.yaml"
    if not path.is_file():
        presets = sorted(p.stem for p in (CONFIG_DIR / "suites").glob("*.yaml"))
        if Path(name_or_path).suffix:
            raise GenbenchError(f"suite file {name_or_path} not found")
        raise unknown_choice("suite", name_or_path, presets)
    expected = f"a YAML mapping with keys among {', '.join(SUITE_KEYS)}"
    try:
        content = yaml.safe_load(path.read_text())
    except UnicodeDecodeError:
        raise GenbenchError(f"suite file {path} is not text; expected {expected}") from None
    except OSError as e:
        raise GenbenchError(f"cannot read suite file {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or "malformed"
        raise GenbenchError(f"suite file {path} is not valid YAML{where}: {problem}") from None
    if content is None:
        raise GenbenchError(f"suite file {path} is empty; expected {expected}")
    if not isinstance(content, dict):
        raise GenbenchError(
            f"suite file {path} holds a {type(content).__name__}; expected {expected}"
        )
    for key, value in content.items():
        if key not in SUITE_KEYS:
            raise GenbenchError(
                f"suite file {path}: unknown key {key}; valid: {', '.join(SUITE_KEYS)}"
            )
        valid, description = SUITE_TYPES[key]
        if not valid(value):
            shown = json.dumps(value, default=str)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise GenbenchError(f"suite file {path}: '{key}' must be {description}, got {shown}")
    return SuiteSpec(**content)


def _is_list_of(kind: type, value: Any, nonempty: bool = False) -> bool:
    """Whether value is a list of `kind` (bools are not ints here)."""
    return (
        isinstance(value, list)
        and (bool(value) or not nonempty)
        and all(isinstance(v, kind) and not isinstance(v, bool) for v in value)
    )


def _is_overrides(value: Any) -> bool:
    return _is_list_of(str, value) and all("=" in v for v in value)


# each suite key's type, checked when a file is read, and how the message describes it
SUITE_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "description": (lambda v: isinstance(v, str), "a string"),
    "models": (lambda v: _is_list_of(str, v, True), "a list of model names, e.g. [vae, logreg]"),
    "datasets": (lambda v: _is_list_of(str, v, True), "a list of dataset names, e.g. [digits]"),
    "seeds": (
        lambda v: _is_list_of(int, v, True) and min(v) >= 0,
        "a list of seeds (integers >= 0), e.g. [0, 1, 2]",
    ),
    "set": (_is_overrides, "a list of key=value overrides, e.g. [trainer.preset=quick]"),
    "per_model": (
        lambda v: isinstance(v, dict) and all(map(_is_overrides, v.values())),
        "a mapping of model -> list of key=value overrides, e.g. {vae: [model.latent_dim=8]}",
    ),
    "grid": (
        lambda v: (
            isinstance(v, dict)
            and all(isinstance(k, str) and isinstance(x, list) and x for k, x in v.items())
        ),
        "a mapping of section.key -> list of values, e.g. {model.latent_dim: [8, 16]}",
    ),
}
