"""The feature extractor's training sized for its data, its cache key, and where it is cached:
the user's cache, or the results folder's own where that cannot be written. Its training is
faked here (a fresh network saved at once); tests/evaluation/test_scorecard.py trains one."""

import pytest
import torch

import genbench.evaluation.features as features
from genbench.config import resolve
from genbench.runner import load_dataset


@pytest.fixture
def digits():
    cfg = resolve("vae", "digits")
    return load_dataset(cfg), cfg.data


@pytest.fixture
def trained(monkeypatch):
    """The folders the extractor was trained into, its training replaced by an untrained net."""
    calls = []

    def fake(data, path):
        calls.append(path.parent)
        state = {"state_dict": features.build_net(data).state_dict(), "test_accuracy": 0.5}
        torch.save(state, path)

    monkeypatch.setattr(features, "train_extractor", fake)
    return calls


def test_training_is_a_budget_of_images_seen_not_of_epochs():
    sized = features.sized_training
    # digits' 1077 training images: the batch and patience of before, and more epochs than the
    # 40 its early stopping ends at, so it trains exactly as before (test accuracy 0.982)
    assert sized(1077) == {"max_epochs": 56, "patience": 10, "batch_size": 64}
    assert sized(3500) == {"max_epochs": 18, "patience": 4, "batch_size": 64}  # MNIST sample
    assert sized(50_000) == {"max_epochs": 2, "patience": 2, "batch_size": 128}  # full MNIST
    assert sized(10)["max_epochs"] == features.TRAINING["max_epochs"]  # clamped
    counts = [10, 100, 1077, 3500, 19_999, 20_000, 50_000, 1_000_000]
    epochs = [sized(n)["max_epochs"] for n in counts]
    assert epochs == sorted(epochs, reverse=True)
    budget, least = features.TRAINING["images_seen"], features.TRAINING["min_epochs"]
    for n, e in zip(counts, epochs, strict=True):  # the budget, rounded up to whole epochs
        assert e * n < max(budget + n, least * n + 1) or e == features.TRAINING["max_epochs"]


def test_the_cache_key_holds_the_training_sized_for_the_data(digits, monkeypatch):
    data, config = digits
    key = features.cache_key("digits", data, config)
    longer = {**features.sized_training(len(data.train.x)), "max_epochs": 99}
    monkeypatch.setattr(features, "sized_training", lambda n: longer)
    assert features.cache_key("digits", data, config) != key


def test_the_training_line_says_what_why_how_much_and_where(tmp_path, digits, trained):
    data, config = digits
    told: list[str] = []
    space = features.feature_space("digits", data, config, tmp_path / "cache", told.append)
    assert trained == [tmp_path / "cache"]
    (line,) = told
    path = tmp_path / "cache" / f"{space.id}.pt"
    assert "feature extractor for digits" in line and "measured in the features of this CNN" in line
    assert "up to 56 epochs of its 1077 training images (60,312 images seen at most" in line
    assert f"cached in {path} for later runs" in line and path.is_file()


def test_an_unwritable_cache_falls_back_to_the_results_folder_once(tmp_path, digits, trained):
    data, config = digits
    (tmp_path / "file").write_text("a file where the cache folder would go")
    cache, own = tmp_path / "file" / "features", tmp_path / "results" / "features"
    told: list[str] = []
    space = features.feature_space("digits", data, config, cache, told.append, own)
    assert trained == [own] and (own / f"{space.id}.pt").is_file()
    assert len(told) == 2 and told[0].startswith(
        f"cannot write the feature extractor cache {cache}"
    )
    assert f"keeping it in {own} instead" in told[0] and str(own) in told[1]
    again = features.feature_space("digits", data, config, cache, told.append, own)
    assert again.id == space.id and trained == [own] and len(told) == 2  # found, said nothing
    with pytest.raises(OSError):  # no results folder to fall back to
        features.feature_space("other", data, config, cache, told.append)


def test_an_extractor_in_either_folder_is_used_not_trained_again(tmp_path, digits, trained):
    data, config = digits
    own, cache = tmp_path / "results" / "features", tmp_path / "cache"
    features.feature_space("digits", data, config, own)  # say a results folder kept its own
    features.feature_space("digits", data, config, cache, None, own)
    assert trained == [own] and not cache.exists()
