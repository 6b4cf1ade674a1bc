import dataclasses

import pytest
import yaml

from genbench.config import CONFIG_DIR, EvalConfig, TrainerConfig, parse_override, resolve
from genbench.errors import GenbenchError
from genbench.registry import DATASETS, MODELS


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
        ("model.latent_dim=abc", "model.latent_dim expects an integer, got 'abc'"),
        ("model.latent_dim=1.5", "expects an integer"),
        ("trainer.deterministic=maybe", "expects true or false"),
        ("model.decoder=gauss", "valid: auto, categorical, bernoulli, discretized_logistic"),
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
