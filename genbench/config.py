"""YAML presets + `--set key=value` overrides -> one validated RunConfig.

Defaults live in YAML only (configs/), layered in this order, later wins:

    trainer/default.yaml -> models/<model>.yaml -> datasets/<dataset>.yaml
    -> trainer/<trainer.preset>.yaml (unless "default") -> --set overrides

The code declares each section's keys and types as a dataclass without defaults, so a key is
checked against one schema and its value comes from one place.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from genbench.errors import GenbenchError
from genbench.registry import lookup

CONFIG_DIR = Path(
    os.environ.get("GENBENCH_CONFIGS", Path(__file__).resolve().parents[1] / "configs")
)
SECTIONS = ("model", "data", "trainer", "eval")


@dataclass
class TrainerConfig:
    """How a model is trained: Lightning Trainer settings and the batch size."""

    preset: str  # trainer preset layered last: configs/trainer/<preset>.yaml
    max_epochs: int
    max_steps: int  # -1: no limit
    batch_size: int
    patience: int  # early stopping: epochs without a better val_loss; 0 turns it off
    accelerator: str  # "auto" picks a GPU when there is one
    devices: str  # "auto", a count, or a list understood by Lightning
    strategy: str
    precision: str
    gradient_clip_val: float
    deterministic: bool


@dataclass
class EvalConfig:
    """How a trained model is scored."""

    iwae_k: int  # importance samples for the IWAE bound, where the model has one
    batch_size: int
    n_samples: int  # samples drawn for the grid
    grid_rows: int
    quality_samples: int  # samples scored for sample quality (FD, KD, ...); 0: none
    likelihood_examples: int | None  # test examples the likelihood is estimated on; None: all

    def __post_init__(self) -> None:
        if self.likelihood_examples is not None and self.likelihood_examples < 1:
            raise GenbenchError(
                f"eval.likelihood_examples must be a positive count or null (all), "
                f"not {self.likelihood_examples}"
            )


@dataclass
class RunConfig:
    """A run's complete, validated configuration: with the seed it determines every number."""

    model_name: str
    dataset_name: str
    seed: int
    model: Any  # the model's Config dataclass
    data: Any  # the dataset's Config dataclass
    trainer: TrainerConfig
    eval: EvalConfig
    impl: dict[str, Any] | None = None  # a student's functions in place of genbench's (--impl)

    def to_dict(self) -> dict[str, Any]:
        student = {} if self.impl is None else {"impl": self.impl}
        return student | {
            "model_name": self.model_name,
            "dataset_name": self.dataset_name,
            "seed": self.seed,
            **{
                section: None if value is None else dataclasses.asdict(value)
                for section in SECTIONS
                for value in [getattr(self, section)]
            },
        }

    @property
    def run_id(self) -> str:
        """Stable id from (model, dataset, seed, config): the same run is found again."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        digest = hashlib.sha256(blob).hexdigest()[:8]
        return f"{self.model_name}-{self.dataset_name}-s{self.seed}-{digest}"


def resolve(
    model: str, dataset: str | None, seed: int = 0, overrides: list[str] | tuple[str, ...] = ()
) -> RunConfig:
    """Build the RunConfig of a run from the presets and `section.key=value` overrides.

    With dataset None (an estimator used outside a run), the dataset layer is skipped and the
    config has no data section.
    """
    schemas: dict[str, type] = {"model": lookup("model", model).load().Config}
    if dataset is not None:
        schemas["data"] = lookup("dataset", dataset).load().Config
    schemas |= {"trainer": TrainerConfig, "eval": EvalConfig}
    parsed = [parse_override(text) for text in overrides]
    preset = next((v for k, v in reversed(parsed) if k == "trainer.preset"), None)

    merged: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    layers = [CONFIG_DIR / "trainer" / "default.yaml", CONFIG_DIR / "models" / f"{model}.yaml"]
    if dataset is not None:
        layers.append(CONFIG_DIR / "datasets" / f"{dataset}.yaml")
    for path in layers:
        merge(merged, read_preset(path))
    preset = str(preset if preset is not None else merged["trainer"].get("preset", "default"))
    if preset != "default":
        valid = sorted(p.stem for p in (CONFIG_DIR / "trainer").glob("*.yaml"))
        if preset not in valid:
            raise GenbenchError(f"unknown trainer preset '{preset}'; valid: {', '.join(valid)}")
        merge(merged, read_preset(CONFIG_DIR / "trainer" / f"{preset}.yaml"))

    for key, value in parsed:
        section, _, name = key.partition(".")
        fields = field_types(schemas[section]) if section in schemas else {}
        if name not in fields:
            scope = [section] if section in schemas else list(schemas)
            valid_keys = [f"{s}.{f}" for s in scope for f in field_types(schemas[s])]
            close = difflib.get_close_matches(key, valid_keys, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise GenbenchError(
                f"unknown key '{key}' for model {model} on {dataset}{hint}; "
                f"valid: {', '.join(valid_keys) or f'none ({section} has no keys)'}"
            )
        merged[section][name] = coerce(value, fields[name], key)

    built = {section: build(cls, merged[section], section) for section, cls in schemas.items()}
    built.setdefault("data", None)
    return RunConfig(model, dataset, int(seed), **built)


def parse_override(text: str) -> tuple[str, Any]:
    """'model.latent_dim=8' -> ('model.latent_dim', 8), the value read as a YAML scalar."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or "." not in key:
        raise GenbenchError(
            f"bad override '{text}': expected section.key=value, e.g. model.lr=0.001"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def read_preset(path: Path) -> dict[str, dict[str, Any]]:
    """One preset file: a mapping of section -> {key: value}. A top-level `inherit: NAME` first
    reads NAME.yaml from the same folder, so a variant states only what it changes."""
    if not path.is_file():
        return {}
    with path.open() as f:
        content = yaml.safe_load(f) or {}
    unknown = set(content) - {*SECTIONS, "inherit"}
    if not isinstance(content, dict) or unknown:
        raise GenbenchError(f"{path}: top-level keys must be among inherit, {', '.join(SECTIONS)}")
    merged: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    if "inherit" in content:
        merge(merged, read_preset(path.parent / f"{content.pop('inherit')}.yaml"))
    merge(merged, content)
    return merged


def merge(into: dict[str, dict[str, Any]], layer: dict[str, dict[str, Any]]) -> None:
    for section, values in layer.items():
        into[section].update(values or {})


def field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def build(cls: type, values: dict[str, Any], section: str) -> Any:
    """Instantiate a section's dataclass, checking that the presets gave exactly its keys."""
    fields = field_types(cls)
    missing = [k for k in fields if k not in values]
    if missing:
        raise GenbenchError(
            f"no value for {', '.join(f'{section}.{k}' for k in missing)} in the presets"
        )
    unknown = [k for k in values if k not in fields]
    if unknown:
        raise GenbenchError(
            f"unknown key {section}.{unknown[0]} in the presets; valid: "
            + ", ".join(f"{section}.{k}" for k in fields)
        )
    return cls(**{k: coerce(values[k], t, f"{section}.{k}") for k, t in fields.items()})


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check `value` against a type annotation, converting the lossless cases (int -> float)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, key)
            except GenbenchError as e:
                errors.append(str(e))
        raise GenbenchError(errors[0])
    if origin is Literal:
        if value not in args:
            raise GenbenchError(f"{key}={value!r} is not valid; valid: {', '.join(map(str, args))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise GenbenchError(f"{key} expects a list like [1, 2], got {value!r}")
        return [coerce(v, args[0], key) for v in value]
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise GenbenchError(f"{key} expects true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise GenbenchError(f"{key} expects an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads '1e-3' as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise GenbenchError(f"{key} expects a number, got {value!r}")
    if annotation is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise GenbenchError(f"{key} expects a string, got {value!r}")
    raise TypeError(f"unsupported annotation {annotation!r} for {key}")
