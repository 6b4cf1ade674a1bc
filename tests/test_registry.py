import pytest

from genbench.data.base import DatasetFamily
from genbench.errors import GenbenchError
from genbench.evaluation.metrics import LIKELIHOOD_KINDS, kind_definition
from genbench.models.base import GenerativeModel
from genbench.registry import DATASETS, MODELS, lookup


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_entries_load(name):
    family = DATASETS[name].load()
    assert issubclass(family, DatasetFamily) and family.name == name


@pytest.mark.parametrize("name", MODELS)
def test_model_entries_load(name):
    model = MODELS[name].load()
    assert issubclass(model, GenerativeModel)
    assert model.likelihood in ("exact", "bound", "none")
    assert (model.log_prob_kind is None) == (model.likelihood == "none")
    assert model.log_prob_kind is None or kind_definition(model.log_prob_kind)


def test_likelihood_kinds_with_a_number_are_defined_by_their_pattern():
    assert kind_definition("iwae-100") == LIKELIHOOD_KINDS["iwae-K"]
    assert kind_definition("vlb-50") == LIKELIHOOD_KINDS["vlb-K"]
    assert kind_definition("dequantized-iw-100") == LIKELIHOOD_KINDS["dequantized-iw-K"]
    assert kind_definition("vlb") == LIKELIHOOD_KINDS["vlb"] and kind_definition("made-up") is None


def test_lookup_suggests_the_closest_name():
    with pytest.raises(
        GenbenchError, match=r"unknown dataset 'digitz' \(did you mean 'digits'\?\)"
    ):
        lookup("dataset", "digitz")
    with pytest.raises(GenbenchError, match=r"unknown model 'nope'; valid: .*vae"):
        lookup("model", "nope")
