"""Report labels, images and tables on stored runs whose answers are set by hand: each caption
shows its own run's image, labels name only what differs and is read, and the best cells
follow the rules (ties, smoke runs, collapse, spreads)."""

import re

from genbench.report.build import build_report, load_runs
from genbench.report.tables import render_table, summarize
from tests.report.fake import fake_reference, fake_run

GEN = {"bpd": 2.0, "bpd_kind": "elbo", "fd": 10.0, "train_seconds": 5.0}


def labels(out):
    runs = load_runs(out)
    return dict(zip(runs["run_id"], runs["variant"], strict=True))


def test_each_caption_shows_its_own_runs_image(tmp_path):
    results = tmp_path / "results"
    # two configs whose old labels shared a long prefix (the old asset names collided)
    a = fake_run(results, "vae", GEN, "model.latent_dim=8", "model.decoder=discretized_logistic",
                 pixels=40)  # fmt: skip
    b = fake_run(results, "vae", GEN, "model.latent_dim=16", pixels=200)
    build_report(results, tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    shown = re.findall(r"!\[([^\]]*samples[^\]]*)\]\(([^)]+)\)", text)
    assert len(shown) == 2
    for run in (a, b):
        caption, path = next((c, p) for c, p in shown if run.run_id in c)
        image = (tmp_path / "report" / path).read_bytes()
        assert image == (results / "runs" / run.run_id / "samples.png").read_bytes()
        latent = run.config["model"]["latent_dim"]
        assert f"latent_dim={latent}" in caption


def test_labels_name_what_the_model_reads_and_differs(tmp_path):
    svm = {"accuracy": 0.9, "fit_seconds": 0.1}
    s1 = fake_run(tmp_path, "svm", svm)
    s2 = fake_run(tmp_path, "svm", svm, "eval.iwae_k=7")  # an SVM reads no eval key
    s3 = fake_run(tmp_path, "svm", svm, "trainer.preset=quick")
    v1 = fake_run(tmp_path, "vae", GEN, "model.latent_dim=8")
    v2 = fake_run(tmp_path, "vae", GEN, "model.latent_dim=16")
    fake_reference(tmp_path, "train", 1000, 3.0)
    names = labels(tmp_path)
    assert names[s1.run_id] == names[s2.run_id] == "svm"
    assert names[s3.run_id] == "svm (quick preset)"
    assert names[v1.run_id] == "vae (latent_dim=8)"
    assert names[v2.run_id] == "vae (latent_dim=16)"
    assert "reference-train (1000 samples)" in names.values()


def table_of(out, columns):
    runs = load_runs(out)
    return render_table("t", summarize(runs[runs["kind"] == "generative"], columns), columns)


def test_best_marks_ties_and_skips_smoke_collapsed_and_diverged(tmp_path):
    good = {"fd": 5.0, "precision": 0.70, "recall": 0.60, "train_seconds": 9.0}
    fake_run(tmp_path, "vae", good, "model.latent_dim=8")
    fake_run(tmp_path, "vae", good | {"fd": 5.0004}, "model.latent_dim=16")  # ties as printed
    fake_run(tmp_path, "vae", good | {"fd": 1.0, "train_seconds": 1.0}, "trainer.preset=quick")
    fake_run(tmp_path, "ae", {**good, "precision": 0.99, "recall": 0.0})  # collapsed
    fake_run(tmp_path, "gan", good | {"train_seconds": 0.5}, status="diverged")
    repeats = {k: v for k, v in good.items() if k != "recall"} | {"precision": 0.99}
    fake_run(tmp_path, "transformer", repeats)  # recall undefined: its samples repeat
    table = table_of(tmp_path, ("fd", "precision", "train_seconds"))
    assert table.header == ["model", "seeds", "FD ↓", "precision ↑", "train s ↓"]
    best = {row[0]: marks for row, marks in zip(table.rows, table.best, strict=True)}
    assert best["vae (latent_dim=8)"][2] and best["vae (latent_dim=16)"][2]  # both tied
    assert not best["vae (latent_dim=16; quick preset)"][2]  # the lowest FD, but smoke
    assert not best["ae"][3] and not best["transformer"][3]  # top precision, but collapsed
    assert best["ae"][2]  # not collapsed in FD's eyes: its FD ties the best
    assert not best["gan (1 diverged)"][4]  # the fastest, but diverged
    assert any("smoke" in note for note in table.notes)


def test_a_spread_larger_than_the_mean_and_mixed_threads_are_footnoted(tmp_path):
    fake_run(tmp_path, "vae", GEN | {"fd": 1.0}, seed=0, threads=1)
    fake_run(tmp_path, "vae", GEN | {"fd": 9.0}, seed=1, threads=2)
    table = table_of(tmp_path, ("fd",))
    assert table.rows[0][0] == "vae ‡" and table.rows[0][2].endswith("†")
    assert len(table.notes) == 2


def test_known_answer_datasets_get_entropy_columns(tmp_path):
    fake_run(tmp_path, "vae", GEN | {"entropy_bpd": 0.5, "entropy_gap": 1.5}, dataset="bars")
    fake_run(tmp_path, "vae", GEN, "model.latent_dim=3", dataset="digits")
    runs = load_runs(tmp_path)
    columns = ("bpd", "entropy_bpd", "entropy_gap", "fd")
    bars = render_table("t", summarize(runs[runs["dataset"] == "bars"], columns), columns)
    digits = render_table("t", summarize(runs[runs["dataset"] == "digits"], columns), columns)
    assert "entropy gap ↓" in bars.header and "true entropy" in bars.header
    assert "entropy gap ↓" not in digits.header  # no known answer there
    assert any(d.startswith("entropy gap ↓: bpd minus the true entropy") for d in bars.definitions)


def test_a_setting_that_differs_across_presets_is_named_unless_the_preset_sets_it(tmp_path):
    quick = fake_run(tmp_path, "vae", GEN, "trainer.preset=quick")  # decoder auto
    full = fake_run(tmp_path, "vae", GEN, "model.decoder=discretized_logistic")
    names = labels(tmp_path)
    assert names[quick.run_id] == "vae (decoder=auto; quick preset)"
    assert names[full.run_id] == "vae (decoder=discretized_logistic)"  # not max_epochs, eval.*


def test_labels_of_runs_on_a_family_preset_name_only_what_differs_on_that_dataset(tmp_path):
    """A VAE on MNIST reads configs/models/mnist/vae.yaml (another latent_dim, batch, epochs
    than on digits): runs on the two datasets are labelled apart by their dataset, not by the
    family preset's keys; on MNIST a --set that differs from the family preset is named."""
    digits = fake_run(tmp_path, "vae", GEN)
    mnist = fake_run(tmp_path, "vae", GEN, dataset="mnist")
    smaller = fake_run(tmp_path, "vae", GEN, "model.latent_dim=8", dataset="mnist")
    assert digits.config["model"]["latent_dim"] != mnist.config["model"]["latent_dim"]
    names = labels(tmp_path)
    assert names[digits.run_id] == "vae"
    assert names[mnist.run_id] == f"vae (latent_dim={mnist.config['model']['latent_dim']})"
    assert names[smaller.run_id] == "vae (latent_dim=8)"


def test_the_kinds_in_the_bpd_column_are_defined_under_the_table(tmp_path):
    fake_run(tmp_path, "vae", GEN)
    fake_run(tmp_path, "ddpm", GEN | {"bpd_kind": "vlb-50"})
    columns = ("bpd", "fd")
    table = render_table("t", summarize(load_runs(tmp_path), columns), columns)
    assert any(
        d.startswith("vlb-50: an unbiased estimate of vlb from K") for d in table.definitions
    )
    assert any(d.startswith("elbo: the evidence lower bound") for d in table.definitions)
