"""YAML presets + `--set key=value` overrides -> one validated RunConfig.

Defaults live in YAML only (configs/), layered in this order, later wins:

    trainer/default.yaml -> models/<model>.yaml -> datasets/<dataset>.yaml
    -> models/<family>/<model>.yaml (if the dataset has a family and the file exists)
    -> trainer/<trainer.preset>.yaml (unless "default") -> --set overrides

A dataset's family (registry: `family="mnist"` for MNIST, Fashion-MNIST, KMNIST and binarized
MNIST) names a folder of model presets sized for data of that scale, each stating only what
differs from the model's own preset (sizes, batch, epochs, evaluation cost).

The code declares each section's keys as a dataclass without defaults, each key's type with its
valid values (genbench.constraints), so a key is checked against one schema and its value comes
from one place. `resolve` checks every value with pydantic before anything reads data or writes a
file, and a bad one is a one-line GenbenchError naming the key, the value and what is valid.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.util
import json
import os
import re
import types
import typing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError

from genbench.constraints import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    Seed,
    describe,
)
from genbench.errors import GenbenchError
from genbench.registry import lookup

SECTIONS = ("model", "data", "trainer", "eval")


def presets_dir() -> Path:
    """Where the YAML presets are read from: $GENBENCH_CONFIGS (a user's own folder), else the
    presets installed with the package (`genbench/configs`, mapped from the repository's
    top-level configs/ in a wheel), else configs/ beside the package in a source checkout."""
    if os.environ.get("GENBENCH_CONFIGS"):
        return Path(os.environ["GENBENCH_CONFIGS"])
    installed = Path(__file__).resolve().parent / "configs"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[1] / "configs"


CONFIG_DIR = presets_dir()

# Lightning's precision names (lightning.fabric.connector._PRECISION_INPUT_STR and its aliases)
PRECISIONS = ("32-true", "32", "64-true", "64", "16-mixed", "16", "bf16-mixed", "bf16")
PRECISIONS += ("16-true", "bf16-true")


def accelerator_here(name: str) -> str:
    """An accelerator this machine has: cpu and auto always; gpu/cuda with a CUDA device, mps
    on Apple silicon (checked here, not deep inside Lightning once a run has started)."""
    if name in ("auto", "cpu"):
        return name
    import torch

    available = ["auto", "cpu"]
    if torch.cuda.is_available():
        available += ["gpu", "cuda"]
    if torch.backends.mps.is_available():
        available.append("mps")
    if name not in available:
        raise ValueError(f"must be one of {', '.join(available)} (the accelerators available here)")
    return name


def precision_here(name: str) -> str:
    """One of Lightning's precisions; transformer-engine's only where that package is installed."""
    available = PRECISIONS
    if importlib.util.find_spec("transformer_engine") is not None:
        available += ("transformer-engine", "transformer-engine-float16")
    if name not in available:
        raise ValueError(f"must be one of {', '.join(available)} (Lightning's precisions)")
    return name


def known_strategy(name: str) -> str:
    """auto or one of the strategies Lightning has registered (ddp, ddp_spawn, fsdp, ...)."""
    if name == "auto":
        return name
    from lightning.pytorch.strategies import StrategyRegistry

    available = ["auto", *StrategyRegistry.available_strategies()]
    if name not in available:
        raise ValueError(f"must be one of {', '.join(available)} (Lightning's strategies)")
    return name


def device_selection(text: str) -> str:
    """auto, a count, -1 (every device) or device indices such as 0,1 (Lightning's forms)."""
    if text == "auto" or re.fullmatch(r"-1|[1-9][0-9]*|[0-9]+(,[0-9]+)*,|[0-9]+(,[0-9]+)+", text):
        return text
    raise ValueError("must be auto, a count >= 1, -1 (every device) or indices like 0,1")


def threads_here(value: int | str) -> int | str:
    """auto, or a thread count this machine has cores for (genbench.threads)."""
    cores = len(os.sched_getaffinity(0))
    if value == "auto" or (isinstance(value, int) and 1 <= value <= cores):
        return value
    raise ValueError(f"must be auto or a thread count from 1 to {cores} (the cores here)")


@dataclass
class TrainerConfig:
    """How a model is trained: Lightning Trainer settings and the batch size."""

    preset: str  # trainer preset layered last: configs/trainer/<preset>.yaml
    max_epochs: PositiveInt
    max_steps: Literal[-1] | PositiveInt  # -1: no limit
    batch_size: PositiveInt
    patience: NonNegativeInt  # early stopping: epochs without a better val_loss; 0 turns it off
    accelerator: Annotated[str, AfterValidator(accelerator_here)]  # auto: a GPU if there is one
    devices: Annotated[str, AfterValidator(device_selection)]  # auto, a count, -1: all, or 0,1
    strategy: Annotated[str, AfterValidator(known_strategy)]
    precision: Annotated[str, AfterValidator(precision_here)]
    gradient_clip_val: NonNegativeFloat  # 0: no clipping
    deterministic: bool
    # CPU threads: auto (the cores the load average leaves free, or OMP_NUM_THREADS) or a count
    threads: Annotated[Literal["auto"] | int, AfterValidator(threads_here)]


@dataclass
class EvalConfig:
    """How a trained model is scored."""

    iwae_k: PositiveInt  # importance samples for the IWAE bound, where the model has one
    batch_size: PositiveInt  # examples x importance samples per forward pass
    n_samples: PositiveInt  # samples drawn for the grid
    grid_rows: PositiveInt
    # samples scored for sample quality (FD, KD, ...); 0: none; precision/recall's k-NN needs 4
    quality_samples: Literal[0] | Annotated[int, Field(ge=4)]
    likelihood_examples: PositiveInt | None  # test examples the likelihood is on; null: all


@dataclass
class RunConfig:
    """A run's complete, validated configuration: with the seed it determines every number."""

    model_name: str
    dataset_name: str
    seed: Seed
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
        return run_id_of(self.to_dict())


def run_id_of(config: dict[str, Any]) -> str:
    """The run id of a config as RunConfig.to_dict() gives it (or result.json holds it)."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]
    return f"{config['model_name']}-{config['dataset_name']}-s{config['seed']}-{digest}"


def resolve(
    model: str, dataset: str | None, seed: int = 0, overrides: list[str] | tuple[str, ...] = ()
) -> RunConfig:
    """Build the RunConfig of a run from the presets and `section.key=value` overrides.

    With dataset None (an estimator used outside a run), the dataset layer is skipped and the
    config has no data section.
    """
    seed = check(seed, Seed, "seed")
    schemas: dict[str, type] = {"model": lookup("model", model).load().Config}
    if dataset is not None:
        schemas["data"] = lookup("dataset", dataset).load().Config
    schemas |= {"trainer": TrainerConfig, "eval": EvalConfig}
    parsed = [parse_override(text) for text in overrides]
    merged = preset_values(model, dataset, parsed)

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
        merged[section][name] = check(value, fields[name], key)

    built = {section: build(cls, merged[section], section) for section, cls in schemas.items()}
    built.setdefault("data", None)
    return RunConfig(model, dataset, seed, **built)


def preset_values(
    model: str, dataset: str | None, parsed: list[tuple[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The preset layers' values merged, later wins, nothing checked yet: trainer defaults, the
    model's, the dataset's, the model's preset for the dataset's family, then the trainer preset
    that the last `trainer.preset` among the `parsed` overrides names (else the layers do)."""
    merged: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    layers = [CONFIG_DIR / "trainer" / "default.yaml", CONFIG_DIR / "models" / f"{model}.yaml"]
    if dataset is not None:
        layers.append(CONFIG_DIR / "datasets" / f"{dataset}.yaml")
    for path in layers:
        merge(merged, read_preset(path))
    family = family_preset(model, dataset)
    if family is not None:
        merge(merged, read_family_preset(family))
    preset = next((v for k, v in reversed(parsed) if k == "trainer.preset"), None)
    preset = str(preset if preset is not None else merged["trainer"].get("preset", "default"))
    if preset != "default":
        valid = sorted(p.stem for p in (CONFIG_DIR / "trainer").glob("*.yaml"))
        if preset not in valid:
            raise GenbenchError(f"unknown trainer preset '{preset}'; valid: {', '.join(valid)}")
        merge(merged, read_preset(CONFIG_DIR / "trainer" / f"{preset}.yaml"))
    return merged


def requested(
    model: str, dataset: str, seed: int, overrides: list[str] | tuple[str, ...] = ()
) -> dict[str, Any]:
    """The config of a run as asked for, in RunConfig.to_dict()'s form, with every value as the
    presets and overrides give it, unchecked: read without importing the model or the dataset
    (nor torch), to find a finished run again cheaply (`agrees` compares it with a checked
    config). A bad seed, name or override fails as in `resolve`."""
    seed = check(seed, Seed, "seed")
    lookup("model", model)
    lookup("dataset", dataset)
    parsed = [parse_override(text) for text in overrides]
    merged = preset_values(model, dataset, parsed)
    for key, value in parsed:
        section, _, name = key.partition(".")
        merged.setdefault(section, {})[name] = value
    return {"model_name": model, "dataset_name": dataset, "seed": seed, **merged}


def agrees(given: Any, checked: Any) -> bool:
    """Whether checking the unchecked `given` (`requested`) gives `checked` (a value or config
    that `resolve` made): the same value of the same type, or the same after the readings
    `check` makes: an integer for a number (1 -> 1.0, as no setting admits both), YAML's text
    of a number (1e-3) or of null. Never yes where `resolve` would differ; a no where it would
    agree only costs the full `resolve`."""
    if isinstance(checked, dict):
        return (
            isinstance(given, dict)
            and given.keys() == checked.keys()
            and all(agrees(given[k], checked[k]) for k in checked)
        )
    if isinstance(checked, list | tuple):
        return (
            isinstance(given, list | tuple)
            and len(given) == len(checked)
            and all(map(agrees, given, checked))
        )
    if type(given) is type(checked):
        return given == checked
    if isinstance(checked, float) and type(given) is int:
        return given == checked
    if isinstance(given, str) and checked is None:
        return given.lower() in ("none", "null")
    if isinstance(given, str) and isinstance(checked, float):
        try:
            return float(given) == checked
        except ValueError:
            return False
    return False


def family_preset(model: str, dataset: str | None) -> Path | None:
    """The preset `model` has for `dataset`'s family, configs/models/<family>/<model>.yaml, or
    None (no dataset, a dataset of no family, or no such file: the model's preset holds)."""
    family = None if dataset is None else lookup("dataset", dataset).family
    if family is None:
        return None
    path = CONFIG_DIR / "models" / family / f"{model}.yaml"
    return path if path.is_file() else None


def family_presets() -> dict[str, list[str]]:
    """Each dataset family -> the models that have a preset for it (`genbench list` shows them)."""
    from genbench.registry import DATASETS

    families = sorted({e.family for e in DATASETS.values() if e.family is not None})
    return {
        family: sorted(p.stem for p in (CONFIG_DIR / "models" / family).glob("*.yaml"))
        for family in families
    }


def read_family_preset(path: Path) -> dict[str, dict[str, Any]]:
    """A family preset: model, trainer and eval keys only (a data key belongs to the dataset's
    own preset, which `resolve_data` reads without a model)."""
    layer = read_preset(path)
    if layer["data"]:
        raise GenbenchError(
            f"{path}: a model's family preset sets no data keys (data.{next(iter(layer['data']))}"
            "); those belong in configs/datasets/<dataset>.yaml"
        )
    return layer


def resolve_data(dataset: str, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """The validated data section alone (trainer/default.yaml, datasets/<dataset>.yaml, then
    `data.*` overrides; others are ignored): what `registry.describe` needs, with no model."""
    schema = lookup("dataset", dataset).load().Config
    merged: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for path in (
        CONFIG_DIR / "trainer" / "default.yaml",
        CONFIG_DIR / "datasets" / f"{dataset}.yaml",
    ):
        merge(merged, read_preset(path))
    fields = field_types(schema)
    for key, value in map(parse_override, overrides):
        section, _, name = key.partition(".")
        if section != "data":
            continue
        if name not in fields:
            valid = ", ".join(f"data.{f}" for f in fields)
            raise GenbenchError(f"unknown key '{key}' for dataset {dataset}; valid: {valid}")
        merged["data"][name] = check(value, fields[name], key)
    return build(schema, merged["data"], "data")


def flatten(config: dict[str, Any], sections: tuple[str, ...] = SECTIONS) -> dict[str, Any]:
    """{'model': {'lr': 0.1}} -> {'model.lr': 0.1}, for the given sections of a stored config."""
    return {
        f"{section}.{key}": value
        for section in sections
        for key, value in (config.get(section) or {}).items()
    }


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


@cache
def field_types(cls: type) -> dict[str, Any]:
    """A Config dataclass's keys -> their declared types, constraints included."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def build(cls: type, values: dict[str, Any], section: str) -> Any:
    """Instantiate a section's dataclass, checking that the presets gave exactly its keys and
    that every value is valid; a rule between keys (a Config's __post_init__) is checked last."""
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
    return cls(**{k: check(values[k], t, f"{section}.{k}") for k, t in fields.items()})


STRICT = ConfigDict(strict=True, allow_inf_nan=False)  # no bool for an int, 1.5 for an int, nan


@cache
def _adapter(annotation: Any) -> TypeAdapter:
    """The validator of a declared type, built once (annotations come from `field_types`, which
    is cached, so the same object is looked up every time)."""
    return TypeAdapter(annotation, config=STRICT)


def check(value: Any, annotation: Any, key: str) -> Any:
    """`value` checked against a declared type and its constraints (pydantic, strict but for the
    lossless int -> float), or a one-line GenbenchError naming the key, the value and what is
    valid, e.g. "model.latent_dim=-4 is not valid: must be an integer > 0"."""
    value = as_meant(value, annotation)
    try:
        return _adapter(annotation).validate_python(value)
    except ValidationError as error:
        custom = [e["ctx"]["error"] for e in error.errors() if e["type"] == "value_error"]
        need = str(custom[0]) if custom else f"must be {describe(annotation)}"
        shown = repr(value) if isinstance(value, str) else value
        raise GenbenchError(f"{key}={shown} is not valid: {need}") from None


def as_meant(value: Any, annotation: Any) -> Any:
    """Undo YAML's readings that are not what the user meant: YAML 1.1 reads 1e-3 as text and
    `none` as text, and `2` or `32` given for a text setting (devices, precision) as numbers."""
    kinds = base_types(annotation)
    if isinstance(value, str):
        if value.lower() in ("none", "null") and type(None) in kinds:
            return None
        if float in kinds:
            try:
                return float(value)
            except ValueError:
                return value
    elif isinstance(value, int | float) and not isinstance(value, bool) and kinds == {str}:
        return str(value)
    return value


def base_types(annotation: Any) -> set[type]:
    """The plain types an annotation admits: Literal["a"] | PositiveInt -> {str, int}."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return base_types(args[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*map(base_types, args))
    if origin is Literal:
        return {type(arg) for arg in args}
    return {annotation}
