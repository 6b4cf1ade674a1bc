import dataclasses
import re

import pytest
import yaml

from genbench.config import (
    CONFIG_DIR,
    EvalConfig,
    TrainerConfig,
    agrees,
    base_types,
    field_types,
    parse_override,
    requested,
    resolve,
)
from genbench.errors import GenbenchError
from genbench.registry import CLASSIFIERS, DATASETS, MODELS


def preset(*parts: str) -> dict:
    return yaml.safe_load((CONFIG_DIR.joinpath(*parts)).read_text())


def test_defaults_come_from_the_yaml_presets():
    cfg = resolve("vae", "digits")
    assert dataclasses.asdict(cfg.model) == preset("models", "vae.yaml")["model"]
    default = preset("trainer", "default.yaml")
    assert cfg.trainer.max_epochs == default["trainer"]["max_epochs"]
    assert cfg.eval.iwae_k == default["eval"]["iwae_k"]


def test_code_keeps_no_defaults_of_its_own():
    """One source of truth: every config dataclass field is required, the YAML supplies it."""
    schemas = [TrainerConfig, EvalConfig]
    schemas += [entry.load().Config for entry in (*MODELS.values(), *DATASETS.values())]
    for schema in schemas:
        for field in dataclasses.fields(schema):
            assert field.default is dataclasses.MISSING, f"{schema.__qualname__}.{field.name}"
            assert field.default_factory is dataclasses.MISSING


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_every_model_and_dataset_preset_resolves(model, dataset):
    cfg = resolve(model, dataset)
    assert cfg.model_name == model and cfg.dataset_name == dataset


def test_overrides_are_typed():
    cfg = resolve("vae", "digits", 3, ["model.latent_dim=8", "model.lr=1e-3", "trainer.patience=0"])
    assert cfg.model.latent_dim == 8 and cfg.seed == 3
    assert isinstance(cfg.model.lr, float) and cfg.model.lr == 1e-3
    assert cfg.trainer.patience == 0
    assert resolve("vae", "digits", 0, ["model.dropout=0"]).model.dropout == 0.0


def test_quick_preset_layers_last_but_before_overrides():
    quick = preset("trainer", "quick.yaml")
    cfg = resolve("vae", "digits", 0, ["trainer.preset=quick"])
    assert cfg.trainer.max_epochs == quick["trainer"]["max_epochs"]
    cfg = resolve("vae", "digits", 0, ["trainer.preset=quick", "trainer.max_epochs=7"])
    assert cfg.trainer.max_epochs == 7


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.nope=1", "unknown key 'model.nope'"),
        ("model.latnt_dim=3", "did you mean 'model.latent_dim'"),
        ("model.latent_dim=abc", "model.latent_dim='abc' is not valid: must be an integer > 0"),
        ("model.latent_dim=1.5", "model.latent_dim=1.5 is not valid: must be an integer > 0"),
        ("model.latent_dim=true", "must be an integer > 0"),
        ("trainer.deterministic=maybe", "must be true or false"),
        (
            "model.decoder=gauss",
            "must be one of auto, categorical, bernoulli, discretized_logistic",
        ),
        ("model.latent_dim=-4", "model.latent_dim=-4 is not valid: must be an integer > 0"),
        ("model.lr=nan", "model.lr=nan is not valid: must be a finite number > 0"),
        ("model.lr=-1", "model.lr=-1 is not valid: must be a finite number > 0"),
        ("model.dropout=2", "model.dropout=2 is not valid: must be a finite number in [0, 1)"),
        ("trainer.max_steps=0", "trainer.max_steps=0 is not valid: must be -1 or an integer > 0"),
        ("trainer.patience=-3", "must be an integer >= 0"),
        ("trainer.precision=banana", "must be one of 32-true, 32, 64-true"),
        ("trainer.devices=0", "must be auto, a count >= 1, -1 (every device) or indices like 0,1"),
        ("trainer.strategy=dpp", "(Lightning's strategies)"),
        ("eval.quality_samples=-5", "must be 0 or an integer >= 4"),
        ("eval.likelihood_examples=0", "must be an integer > 0 or null"),
        ("trainer.preset=nope", "unknown trainer preset 'nope'; valid: default, quick"),
        ("nosection=1", "expected section.key=value"),
        ("solver.x=1", "unknown key 'solver.x'"),
    ],
)
def test_bad_overrides_name_the_problem_and_the_choices(override, message):
    with pytest.raises(GenbenchError, match=None) as error:
        resolve("vae", "digits", 0, [override])
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_key_lists_the_valid_keys_of_its_section():
    with pytest.raises(GenbenchError) as error:
        resolve("vae", "digits", 0, ["model.nope=1"])
    assert "model.latent_dim" in str(error.value) and "trainer.max_epochs" not in str(error.value)


def test_parse_override_reads_yaml_scalars():
    assert parse_override("model.x=3") == ("model.x", 3)
    assert parse_override("model.x=true") == ("model.x", True)
    assert parse_override("model.x=[1, 2]") == ("model.x", [1, 2])
    assert parse_override("model.x=a:b") == ("model.x", "a:b")


def test_run_id_is_stable_and_changes_with_config_and_seed():
    a = resolve("vae", "digits", 0)
    assert a.run_id == resolve("vae", "digits", 0).run_id
    assert a.run_id.startswith("vae-digits-s0-")
    assert a.run_id != resolve("vae", "digits", 1).run_id
    assert a.run_id != resolve("vae", "digits", 0, ["model.latent_dim=3"]).run_id


def test_values_are_read_as_meant():
    """YAML 1.1 reads 1e-3 and none as text, 32 and 2 as numbers: each becomes what the
    setting declares; an int becomes a float where a float is declared."""
    cfg = resolve(
        "vae",
        "digits",
        0,
        [
            "model.lr=1e-3",
            "model.weight_decay=0",
            "trainer.precision=32",
            "trainer.devices=2",
            "trainer.max_steps=-1",
            "eval.likelihood_examples=none",
        ],
    )
    assert cfg.model.lr == 1e-3 and isinstance(cfg.model.weight_decay, float)
    assert (cfg.trainer.precision, cfg.trainer.devices) == ("32", "2")
    assert cfg.trainer.max_steps == -1 and cfg.eval.likelihood_examples is None
    assert resolve("svm", "digits", 0, ["model.gamma=1"]).model.gamma == 1.0
    assert resolve("svm", "digits", 0, ["model.gamma=auto"]).model.gamma == "auto"


@pytest.mark.parametrize("seed", [-1, 2**32, 99999999999999999999])
def test_seed_must_fit_numpy(seed):
    with pytest.raises(GenbenchError, match=r"must be an integer in \[0, 4294967295\]"):
        resolve("vae", "digits", seed)
    assert resolve("vae", "digits", 2**32 - 1).seed == 2**32 - 1


def test_accelerators_this_machine_lacks_are_refused_naming_those_it_has(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for name in ("gpu", "cuda", "tpu", "mps"):
        with pytest.raises(GenbenchError) as error:
            resolve("vae", "digits", 0, [f"trainer.accelerator={name}"])
        assert str(error.value) == (
            f"trainer.accelerator='{name}' is not valid: must be one of auto, cpu "
            "(the accelerators available here)"
        )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve("vae", "digits", 0, ["trainer.accelerator=gpu"]).trainer.accelerator == "gpu"


@pytest.mark.parametrize(
    ("model", "override", "message"),
    [
        ("transformer", "model.n_head=3", "must be a multiple of model.n_head (3)"),
        ("ddpm", "model.sample_steps=5000", "must be at most model.timesteps (250) or null"),
        ("gan", "model.n_critic=0", "must be an integer > 0 or auto"),
        ("svm", "model.gamma=wide", "must be one of scale, auto or a finite number > 0"),
    ],
)
def test_rules_of_each_model_are_checked_when_resolving(model, override, message):
    with pytest.raises(GenbenchError, match=re.escape(message)):
        resolve(model, "digits", 0, [override])


def test_every_setting_declares_its_valid_values():
    """A plain int or float accepts nonsense (-4 latent dimensions): every numeric setting of
    every section carries a constraint, so a new one cannot forget it."""
    from genbench.constraints import describe

    schemas = [TrainerConfig, EvalConfig]
    schemas += [entry.load().Config for entry in (*MODELS.values(), *DATASETS.values())]
    for schema in schemas:
        for name, annotation in field_types(schema).items():
            assert annotation not in (int, float), (
                f"{schema.__qualname__}.{name}: {describe(annotation)}"
            )


def test_every_preset_as_requested_agrees_with_its_resolved_config():
    """What finds a finished run without torch (`requested`, read unchecked) agrees with what
    `resolve` makes for every model's and classifier's preset (on digits, default and quick)
    and every dataset's (with the VAE): so `genbench run` of a finished run finds it from its
    presets. (Sections come from their own presets, so pairs add nothing; 25 ms a resolve.)"""
    presets = ([], ["trainer.preset=quick"])
    runs = [(m, "digits", o) for m in (*MODELS, *CLASSIFIERS) for o in presets]
    runs += [("vae", dataset, []) for dataset in DATASETS]
    for model, dataset, overrides in runs:
        cfg = resolve(model, dataset, 0, overrides)
        assert agrees(requested(model, dataset, 0, overrides), cfg.to_dict()), (model, dataset)


def test_a_request_agrees_only_where_resolving_it_gives_the_same_config():
    def same(*overrides):
        return agrees(requested("vae", "digits", 0, overrides), resolve("vae", "digits").to_dict())

    # the readings `check` makes: YAML's text of a number, an int for a float, text for null
    assert same("model.lr=1e-3", "model.weight_decay=0", "model.dropout=3e-1")
    assert agrees(
        requested("vae", "digits", 0, ["eval.likelihood_examples=none"]),
        resolve("vae", "digits", 0, ["eval.likelihood_examples=100"]).to_dict()
        | {"eval": resolve("vae", "digits").to_dict()["eval"]},
    )
    # anything else that differs: another value, another seed, a bool for an int, a float for
    # an int (resolve refuses it), a key that is not there, text that check reads otherwise
    assert not same("model.latent_dim=17")
    assert not agrees(requested("vae", "digits", 1), resolve("vae", "digits").to_dict())
    assert not same("model.conditional=0")
    assert not same("model.latent_dim=16.0")
    assert not same("model.nonsense=1")
    assert not same("trainer.precision=32")  # 32 read as text: not the preset's 32-true
    assert not agrees(True, 1) and not agrees(1.5, 1) and not agrees([1, 2], [1])
    assert agrees([1, "a"], [1.0, "a"]) and agrees("NULL", None)


def test_no_setting_admits_both_an_integer_and_a_number():
    """`agrees` reads a given 1 as the 1.0 a checked config holds: true only while no setting
    takes both int and float (where check would keep the 1 an int)."""
    schemas = [TrainerConfig, EvalConfig]
    entries = (*MODELS.values(), *CLASSIFIERS.values(), *DATASETS.values())
    schemas += [entry.load().Config for entry in entries]
    for schema in schemas:
        for name, annotation in field_types(schema).items():
            assert not {int, float} <= base_types(annotation), f"{schema.__qualname__}.{name}"


# --- presets per dataset family (configs/models/<family>/<model>.yaml) --------------------------

# Run ids on digits computed before the family layer existed: a dataset of no family resolves
# exactly as it did, for generative models, classifiers and generative classifiers alike.
DIGITS_RUN_IDS = {
    "vae": "vae-digits-s0-1dea9328",
    "transformer": "transformer-digits-s0-5a6fe35c",
    "ddpm": "ddpm-digits-s0-c9840ee5",  # model.bound_steps added since (issue 15)
    "gan": "gan-digits-s0-42f4552c",
    "svm": "svm-digits-s0-ff764348",
    "mlp": "mlp-digits-s0-5ca233cc",
    "bayes-vae": "bayes-vae-digits-s0-6806bf58",
    "bayes-ddpm": "bayes-ddpm-digits-s0-79091b12",
}


@pytest.mark.parametrize(("model", "run_id"), DIGITS_RUN_IDS.items())
def test_a_digits_run_is_unchanged_by_the_family_presets(model, run_id):
    assert resolve(model, "digits").run_id == run_id


def family_files() -> list[tuple[str, str]]:
    """(family, model) of every family preset file."""
    folders = [p for p in (CONFIG_DIR / "models").iterdir() if p.is_dir()]
    return sorted((f.name, p.stem) for f in folders for p in f.glob("*.yaml"))


def family_datasets(family: str) -> list[str]:
    return [name for name, entry in DATASETS.items() if entry.family == family]


@pytest.fixture
def presets(tmp_path, monkeypatch):
    """A private copy of the presets, read by resolve instead of the real ones."""
    import shutil

    from genbench import config

    copy = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, copy)
    monkeypatch.setattr(config, "CONFIG_DIR", copy)
    return copy


def test_family_preset_layers_after_the_dataset_and_before_quick_and_set(presets):
    (presets / "datasets" / "mnist.yaml").write_text(
        "data: {n_val: 10000, download: true}\ntrainer: {batch_size: 11, patience: 4}\n"
    )
    (presets / "models" / "mnist" / "vae.yaml").write_text(
        "model: {hidden: 77, latent_dim: 5}\n"
        "trainer: {batch_size: 33, max_epochs: 9}\neval: {iwae_k: 7, likelihood_examples: 50}\n"
    )
    own = preset("models", "vae.yaml")["model"]
    cfg = resolve("vae", "mnist")
    assert (cfg.model.hidden, cfg.model.latent_dim) == (77, 5)  # over the model's preset
    assert cfg.model.dropout == own["dropout"]  # a key it does not state stays the model's
    assert cfg.trainer.batch_size == 33  # over the dataset's preset
    assert cfg.trainer.patience == 4  # the dataset's, where the family preset says nothing
    assert (cfg.trainer.max_epochs, cfg.eval.iwae_k) == (9, 7)  # over trainer/default.yaml
    quick = preset("trainer", "quick.yaml")
    cfg = resolve("vae", "mnist", 0, ["trainer.preset=quick", "model.hidden=12"])
    assert cfg.trainer.max_epochs == quick["trainer"]["max_epochs"]  # quick over the family
    assert cfg.eval.iwae_k == quick["eval"]["iwae_k"]
    assert cfg.eval.likelihood_examples == quick["eval"]["likelihood_examples"]
    assert cfg.model.hidden == 12 and cfg.model.latent_dim == 5  # --set over everything
    for dataset in family_datasets("mnist"):  # every dataset of the family reads it
        assert resolve("vae", dataset).model.hidden == 77
    assert resolve("vae", "digits").model.hidden == own["hidden"]  # no family: not read


def test_a_model_without_a_family_preset_keeps_its_own(presets):
    (presets / "models" / "mnist" / "knn.yaml").unlink(missing_ok=True)
    assert (
        resolve("knn", "mnist").model.n_neighbors
        == preset("models", "knn.yaml")["model"]["n_neighbors"]
    )


def test_a_family_preset_sets_no_data_key(presets):
    (presets / "models" / "mnist" / "vae.yaml").write_text("data: {n_val: 500}\n")
    with pytest.raises(GenbenchError, match=r"mnist/vae\.yaml: a model's family preset sets no "):
        resolve("vae", "mnist")


def test_a_bad_key_in_a_family_preset_is_named(presets):
    (presets / "models" / "mnist" / "vae.yaml").write_text("model: {hiden: 5}\n")
    with pytest.raises(GenbenchError, match=r"unknown key model\.hiden in the presets"):
        resolve("vae", "mnist")


def test_every_generative_model_has_an_mnist_preset():
    assert set(MODELS) <= {model for family, model in family_files() if family == "mnist"}


@pytest.mark.parametrize(("family", "model"), family_files())
def test_family_preset_contract(family, model):
    """Every family preset is for a registered model and a family some dataset has, holds only
    keys of the model's Config, the trainer and the evaluation (no data key: that is the
    dataset's), states only what differs from the model's own preset, and resolves on every
    dataset of its family."""
    from genbench.config import read_preset
    from genbench.registry import TABLES

    assert model in TABLES["model"], f"models/{family}/{model}.yaml: no model {model}"
    assert family_datasets(family), f"models/{family}/: no dataset has family {family}"
    raw = preset("models", family, f"{model}.yaml")
    assert set(raw) <= {"inherit", "model", "trainer", "eval"}
    layer = read_preset(CONFIG_DIR / "models" / family / f"{model}.yaml")
    schemas = {"model": TABLES["model"][model].load().Config, "trainer": TrainerConfig}
    schemas["eval"] = EvalConfig
    own = read_preset(CONFIG_DIR / "models" / f"{model}.yaml")
    for section, schema in schemas.items():
        assert set(layer[section]) <= set(field_types(schema)), (section, layer[section])
        if "inherit" not in raw:  # an inheriting file repeats its parent's family keys
            same = {k for k, v in (raw.get(section) or {}).items() if own[section].get(k) == v}
            assert not same, f"models/{family}/{model}.yaml repeats {section} keys {same}"
    for dataset in family_datasets(family):
        cfg = resolve(model, dataset)
        for key, value in (raw.get("model") or {}).items():
            assert getattr(cfg.model, key) == value


def test_every_preset_ships_in_the_wheel():
    """setup.py's package data globs cover every YAML file under configs/, family folders too."""
    import ast
    import fnmatch
    from pathlib import Path

    tree = ast.parse((Path(__file__).parents[1] / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.keywords)
    data = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "package_data"))
    globs = data["genbench.configs"]
    for path in CONFIG_DIR.rglob("*.yaml"):
        relative = path.relative_to(CONFIG_DIR).as_posix()
        matched = [g for g in globs if fnmatch.fnmatch(relative, g) and
                   g.count("/") == relative.count("/")]  # fmt: skip
        assert matched, f"configs/{relative} matches none of {globs}"
