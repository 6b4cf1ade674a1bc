import pytest

from genbench.data.base import DatasetFamily
from genbench.errors import GenbenchError
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


def test_lookup_suggests_the_closest_name():
    with pytest.raises(
        GenbenchError, match=r"unknown dataset 'digitz' \(did you mean 'digits'\?\)"
    ):
        lookup("dataset", "digitz")
    with pytest.raises(GenbenchError, match=r"unknown model 'nope'; valid: .*vae"):
        lookup("model", "nope")
