"""The scorecard end to end: the feature space is trained once and reused, the references order
as they must, and every generative model gets the same keys."""

import dataclasses
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import genbench.evaluation.features as features
import genbench.evaluation.scorecard as scorecard
from genbench.config import resolve
from genbench.errors import GenbenchError
from genbench.evaluation.likelihood import bits_per_dim, reconstruction_metrics
from genbench.evaluation.scorecard import score_generative
from genbench.progress import Phases
from genbench.results.summary import summary
from genbench.runner import build_model, load_dataset, run
from tests.conftest import tiny_config

QUALITY_KEYS = {
    "fd", "kd", "precision", "recall", "density", "coverage", "classifier_score",
    "memorized_fraction", "samples_per_second", "train_examples_per_second", "peak_memory_mb",
    "n_samples", "feature_space",
}  # fmt: skip


def test_feature_space_is_trained_once_and_is_a_good_classifier(tmp_path, monkeypatch):
    cfg = resolve("vae", "digits")
    data = load_dataset(cfg)
    told: list[str] = []
    space = features.feature_space("digits", data, cfg.data, tmp_path, told.append)
    assert space.test_accuracy >= 0.97  # its features mean something
    assert space.features(data.test.x[:5]).shape == (5, features.EXTRACTOR["hidden"])
    # its epoch lines come before the run's: the log says whose they are
    assert len(told) == 1 and "training the sample-quality feature extractor for digits" in told[0]
    calls = []
    monkeypatch.setattr(features, "train_extractor", lambda *a: calls.append(a))
    again = features.feature_space("digits", data, cfg.data, tmp_path, told.append)
    assert calls == [] and again.id == space.id  # reused from the cache, not retrained
    assert len(told) == 1  # and nothing to announce


def test_the_extractor_cache_key_changes_with_the_data_itself():
    """Same name and parameters, other data (e.g. read from another --data-dir): another key,
    so a cached extractor is never reused for data it was not trained on."""
    cfg = resolve("vae", "digits")
    data = load_dataset(cfg)
    key = features.cache_key("digits", data, cfg.data)
    assert features.cache_key("digits", load_dataset(cfg), cfg.data) == key  # read again
    one_pixel = dataclasses.replace(
        data, train=dataclasses.replace(data.train, x=data.train.x.clone())
    )
    one_pixel.train.x[0, 0, 0, 0] += 1
    relabelled = dataclasses.replace(data, val=dataclasses.replace(data.val, y=data.val.y.flip(0)))
    fewer_classes = dataclasses.replace(data, spec=dataclasses.replace(data.spec, num_classes=9))
    others = [
        features.cache_key("digits", d, cfg.data) for d in (one_pixel, relabelled, fewer_classes)
    ]
    assert len({key, *others}) == 4


def test_scorecard_keys_and_reference_order(tmp_path):
    cfg = tiny_config("vae", "digits", "trainer.max_epochs=10", "eval.quality_samples=300")
    result = run(cfg, tmp_path).result
    m = result["metrics"]
    assert set(m) >= QUALITY_KEYS and m["n_samples"] == 300
    references = {}
    for path in (tmp_path / "runs").glob("reference-*/result.json"):
        record = json.loads(path.read_text())
        references[record["model"]] = record["metrics"]
    assert set(references) == {"reference-train", "reference-noise"}
    assert references["reference-train"]["fd"] < m["fd"] < references["reference-noise"]["fd"]
    assert references["reference-train"]["memorized_fraction"] == 1.0  # copies, by definition
    assert references["reference-noise"]["precision"] < m["precision"]
    assert (tmp_path / "runs" / result["run_id"] / "memorization.png").is_file()


def test_bars_is_measured_in_pixel_space_where_knn_metrics_do_not_apply(tmp_path):
    """Bars' test split repeats its 30 patterns, so every k-NN radius is 0 in pixel space:
    precision, density and coverage are absent with the reason, and the summary says pixels."""
    outcome = run(tiny_config("vae", "bars", "eval.quality_samples=200"), tmp_path)
    m = outcome.result["metrics"]
    assert m["feature_space"] == "bars-pixels" and "classifier_score" not in m
    assert not {"precision", "density", "coverage"} & set(m)
    assert "exact duplicates among the real examples" in m["knn_not_applicable"]
    assert m["kd_std"] > 0  # 200 samples against 1000: the subsets of the test split differ
    text = summary(outcome.record, outcome.directory, reused=False)
    assert "fd (pixels)" in text and re.search(r"precision / recall \(pixels\) +n/a / ", text)


def test_likelihood_on_the_first_n_test_examples_when_asked():
    """eval.likelihood_examples=N: bpd is the mean over the first N test examples (an exact
    model makes that checkable), bpd_n says N; null takes the whole test split."""
    cfg = tiny_config("transformer", "digits", "eval.quality_samples=0", "eval.n_samples=1")
    data = load_dataset(cfg)
    model = build_model(cfg, data)
    head = dataclasses.replace(cfg.eval, likelihood_examples=50)
    m = score_generative(model, data, head, seed=0)
    with torch.no_grad():
        expected = bits_per_dim(model.log_prob(data.test.x[:50]), model.spec.dim).mean()
    assert m["bpd_n"] == 50 and m["bpd"] == pytest.approx(expected.item(), rel=1e-6)
    whole = score_generative(model, data, dataclasses.replace(head, likelihood_examples=None), 0)
    assert whole["bpd_n"] == len(data.test) == 450 and whole["bpd"] != m["bpd"]
    with pytest.raises(GenbenchError, match="likelihood_examples=0 is not valid"):
        resolve("vae", "digits", 0, ["eval.likelihood_examples=0"])


def test_reconstruction_is_on_the_likelihoods_examples():
    """The VAE's recon_bpd is a term of its ELBO: both average the same first N examples."""
    cfg = tiny_config("vae", "digits", "eval.quality_samples=0", "eval.likelihood_examples=50")
    data = load_dataset(cfg)
    model = build_model(cfg, data).eval()
    m = score_generative(model, data, cfg.eval, seed=0)
    torch.manual_seed(0)
    head = reconstruction_metrics(model, data.test.x[:50], cfg.eval.batch_size)
    whole = reconstruction_metrics(model, data.test.x, cfg.eval.batch_size)
    assert m["bpd_n"] == 50 and m["recon_mse"] == pytest.approx(head["recon_mse"], rel=1e-6)
    assert m["recon_mse"] != pytest.approx(whole["recon_mse"], rel=1e-6)


def spy_on_save_grid(monkeypatch) -> list[tuple]:
    """Record save_grid's arguments in the scorecard instead of writing PNGs."""
    calls: list[tuple] = []
    monkeypatch.setattr(scorecard, "save_grid", lambda *a: calls.append(a))
    return calls


def test_memorization_png_captions_samples_above_their_nearest_training_images(monkeypatch):
    calls = spy_on_save_grid(monkeypatch)
    train = torch.randint(0, 2, (20, 1, 4, 4), generator=torch.Generator().manual_seed(0))
    samples = torch.cat([train[[3, 7]], 1 - train[[5]]])  # two copies, one far from all
    data = SimpleNamespace(spec=SimpleNamespace(num_levels=2), train=SimpleNamespace(x=train))
    scorecard.save_closest_pairs(samples, data, Path("m.png"), pairs=3)
    ((grid, _, _, rows, captions, (footer_caption, distances)),) = calls
    assert rows == 2 and captions == ["sample", "nearest training image"]
    assert footer_caption == "L2 distance" and distances[:2] == ["0.00", "0.00"]
    assert float(distances[2]) > 0  # closest first: the copies, then the other sample
    assert torch.equal(grid[:2], grid[3:5]) and torch.equal(grid[2], samples[2])


def test_reconstructions_png_rows_alternate_and_are_captioned(monkeypatch):
    calls = spy_on_save_grid(monkeypatch)
    model = SimpleNamespace(reconstruct=lambda x: 15 - x)  # tells the two rows apart
    cfg = SimpleNamespace(n_samples=8, grid_rows=4)
    x = torch.randint(0, 16, (10, 1, 4, 4))
    data = SimpleNamespace(spec=SimpleNamespace(num_levels=16))
    scorecard.save_grids(model, x[:8], x, data, cfg, Path("."))
    (samples_call, (pairs, _, path, rows, captions)) = calls
    assert len(samples_call) == 4  # samples.png: no captions
    assert path.name == "reconstructions.png" and rows == 4
    assert captions == ["test image", "reconstruction"] * 2
    cols = 2  # 8 samples in 4 rows
    for r in range(0, rows, 2):  # a row of test images, then the row of their reconstructions
        originals = pairs[r * cols : (r + 1) * cols]
        assert torch.equal(pairs[(r + 1) * cols : (r + 2) * cols], 15 - originals)


@pytest.mark.parametrize(
    ("name", "likelihood", "steps"),
    [("ddpm", "vlb", 50), ("transformer", "exact", 64)],
)
def test_scoring_says_each_phase_and_how_far_sampling_got(name, likelihood, steps, capsys):
    """A line when each phase starts; progress lines from inside the sampling loop (a DDPM's
    T = 50 steps, a transformer's 64 positions; each shown here, `every` = 0); nothing on
    stdout, which is left to results."""
    cfg = tiny_config(name, "digits", "eval.likelihood_examples=20", "eval.quality_samples=0")
    data = load_dataset(cfg)
    model = build_model(cfg, data)
    phases = Phases(live=False, every=0.0)
    score_generative(model, data, cfg.eval, seed=0, phases=phases)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    started = [line for line in lines if line.startswith("genbench: evaluating: ")]
    assert started[-1] == f"genbench: evaluating: sampling (drawing {cfg.eval.n_samples} samples)"
    assert started[0] == f"genbench: evaluating: likelihood ({likelihood}, 20 test examples)"
    told = [line.split()[2] for line in lines if line.startswith("genbench:   sampling ")]
    assert told[-1] == f"{steps}/{steps}"
    assert set(told) == {f"{step}/{steps}" for step in range(1, steps + 1)}  # every step
