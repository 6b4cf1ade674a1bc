"""`genbench sample`: draws from a stored run's checkpoint, seeded, without training again."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genbench.cli import main
from genbench.errors import GenbenchError
from genbench.registry import MODELS
from genbench.run.sample import draw, load_model, prepare, sample_run
from tests.report.fake import fake_reference, fake_run
from tests.run.fake import stored_run


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One stored tiny run of each generative model (untrained: its initial weights)."""
    out = tmp_path_factory.mktemp("results")
    return out, {name: stored_run(out, name) for name in MODELS}


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize("name", MODELS)
def test_every_generative_model_samples_its_checkpoints_weights(store, name, tmp_path):
    """The model rebuilt from the store has the checkpoint's weights, and its samples have the
    data's shape and levels; the PNG is the grid of them."""
    out, runs = store
    fast = ["model.sample_steps=5"] if name == "ddpm" else []  # DDIM: 5 steps, not 50
    request = prepare(out, runs[name].run_id, 5, 0, fast, tmp_path / "grid.png")
    model, data = load_model(request, None)
    saved = torch.load(request.checkpoint, weights_only=True)["state_dict"]
    for key, value in model.state_dict().items():
        if not key.startswith("gmm_"):  # the autoencoder's mixture is fitted again
            assert torch.equal(value.cpu(), saved[key]), key
    samples = draw(model, 5, 0)
    assert samples.shape == (5, 1, 8, 8) and int(samples.max()) < data.spec.num_levels


def test_same_seed_same_grid_other_seed_other_grid(store, tmp_path):
    out, runs = store
    run_id = runs["vae"].run_id
    paths = [tmp_path / f"{name}.png" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (0, 0, 1), strict=True):
        sample_run(out, run_id, 10, seed, out=path)
    a, b, c = (path.read_bytes() for path in paths)
    assert a == b and a != c
    # 10 samples: 3 rows of 4 cells of 8 + 1 pixels (+ 1), each pixel 6 x 6
    assert Image.open(paths[0]).size == (6 * (4 * 9 + 1), 6 * (3 * 9 + 1))


def test_the_autoencoders_mixture_follows_the_seed(store, tmp_path):
    """The AE refits its latent mixture after loading; with the seed, the grid is the same."""
    out, runs = store
    one, two = tmp_path / "1.png", tmp_path / "2.png"
    sample_run(out, runs["ae"].run_id, 8, 4, out=one)
    sample_run(out, runs["ae"].run_id, 8, 4, out=two)
    assert one.read_bytes() == two.read_bytes()


def test_temperature_near_zero_draws_the_most_likely_pixels(store):
    """A known answer: at temperature 1e-4 the transformer's draw is its argmax at every pixel,
    so every sample is the same, whatever the seed; at temperature 1 they differ."""
    out, runs = store
    run_id = runs["transformer"].run_id
    cold = prepare(out, run_id, 6, 0, ["model.temperature=1e-4"], None)
    assert cold.cfg.model.temperature == 1e-4
    model, _ = load_model(cold, None)
    a, b = draw(model, 6, 0), draw(model, 6, 1)
    assert torch.equal(a, b) and all(torch.equal(a[0], x) for x in a)
    warm, _ = load_model(prepare(out, run_id, 6, 0, [], None), None)
    assert not torch.equal(draw(warm, 6, 0), draw(warm, 6, 1))
    stored = json.loads((out / "runs" / run_id / "result.json").read_text())
    assert stored["config"]["model"]["temperature"] == 1.0  # the store is not changed


def test_only_keys_read_by_sampling_alone_may_change(store):
    out, runs = store
    assert prepare(out, runs["ddpm"].run_id, 2, 0, ["model.sample_steps=5"], None)
    with pytest.raises(GenbenchError) as info:
        prepare(out, runs["ddpm"].run_id, 2, 0, ["model.timesteps=20"], None)
    assert str(info.value) == (
        "model.timesteps cannot be changed when sampling a stored ddpm: only keys read by "
        "sampling alone can (model.sample_steps)"
    )
    with pytest.raises(GenbenchError, match=r"\(vae has none\)"):
        prepare(out, runs["vae"].run_id, 2, 0, ["model.latent_dim=3"], None)
    with pytest.raises(GenbenchError, match=r"eval\.n_samples cannot be changed"):
        prepare(out, runs["transformer"].run_id, 2, 0, ["eval.n_samples=3"], None)
    with pytest.raises(GenbenchError, match=r"must be at most model\.timesteps"):
        prepare(out, runs["ddpm"].run_id, 2, 0, ["model.sample_steps=999"], None)


def test_runs_that_cannot_be_sampled_are_refused(tmp_path):
    svm = fake_run(tmp_path, "svm", {"accuracy": 0.9})
    bayes = fake_run(tmp_path, "bayes-vae", {"accuracy": 0.9})
    diverged = fake_run(tmp_path, "vae", {"diverged_step": 3}, seed=2, status="diverged")
    missing = fake_run(tmp_path, "vae", {"bpd": 2.0}, seed=3)  # no checkpoint was written
    reference = "reference-train-digits-cnn-0-n100"
    fake_reference(tmp_path, "train", 100, 3.0)
    for run_id, why in [
        (reference, "is not a model's run (reference-train)"),
        (svm.run_id, "is a classifier (svm): genbench sample draws from generative models"),
        (bayes.run_id, "is a classifier (bayes-vae)"),
        (diverged.run_id, "is diverged, not done"),
        (missing.run_id, "has no checkpoint"),
    ]:
        with pytest.raises(GenbenchError, match=re.escape(why)):
            prepare(tmp_path, run_id, 4, 0, [], None)


def test_a_damaged_checkpoint_is_one_line(tmp_path):
    run = stored_run(tmp_path, "vae")
    (tmp_path / "runs" / run.run_id / "checkpoints" / "best.ckpt").write_bytes(b"not torch")
    with pytest.raises(GenbenchError, match=r"cannot load .*best\.ckpt \(UnpicklingError"):
        sample_run(tmp_path, run.run_id, 4, out=tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("out", "why"),
    [("grid.jpg", "must end in .png"), ("folder.png", "is a folder"), ("ro/x.png", "cannot write")],
)
def test_a_bad_out_is_refused_before_any_work(store, tmp_path, out, why):
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "ro").mkdir(mode=0o500)
    if why == "cannot write" and os.access(tmp_path / "ro", os.W_OK):
        pytest.skip("running as a user who can write anywhere (root)")
    with pytest.raises(GenbenchError, match=why):
        prepare(store[0], store[1]["vae"].run_id, 4, 0, [], tmp_path / out)


def test_cli_writes_the_grid_and_says_where(store, tmp_path, capsys, monkeypatch):
    out, runs = store
    monkeypatch.chdir(tmp_path)
    prefix = runs["transformer"].run_id[:18]
    code = main(["sample", prefix, "-n", "4", "--set", "model.temperature=0.5",
                 "--results", str(out), "--seed", "7"])  # fmt: skip
    assert code == 0
    default = f"samples-{runs['transformer'].run_id}-s7.png"
    assert capsys.readouterr().out.strip() == (
        f"4 samples of {runs['transformer'].run_id} (seed 7, model.temperature=0.5): {default}"
    )
    grid = np.asarray(Image.open(tmp_path / default))
    assert grid.shape[:2] == (6 * (2 * 9 + 1), 6 * (2 * 9 + 1))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["vae-digits"], "ambiguous"),  # every model's stored run starts with its name
        (["nope"], "no run 'nope' under"),
        (["vae", "-n", "0"], "argument -n: must be an integer >= 1, not 0"),
        (["vae", "--seed", "-1"], "seed=-1 is not valid"),
        (["vae", "--set", "model.hidden=3"], "model.hidden cannot be changed"),
        (["vae", "--out", "x.gif"], "must end in .png"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(store, tmp_path, capsys, monkeypatch, args, expected):
    out = store[0]
    monkeypatch.chdir(tmp_path)
    if args[0] == "vae-digits":  # two runs start with vae-digits: another vae run beside it
        out = tmp_path / "two"
        stored_run(out, "vae")
        stored_run(out, "vae", "model.latent_dim=3")
    assert main(["sample", *args, "--results", str(out)]) == 2
    assert expected in one_line_error(capsys)
    assert list(Path(tmp_path).glob("*.png")) == []
