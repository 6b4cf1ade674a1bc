"""Sequences through the whole harness: a tiny transformer trained and scored on markov and on
text writes its samples as text, skips the image-only metrics with the reason recorded, and
reports the entropy rate and bits per byte."""

import torch

from genbench.data.markov import SYMBOLS
from genbench.data.text import contiguous_parts
from genbench.results.summary import summary
from genbench.runner import run
from tests.conftest import tiny_config

SMALL_MARKOV = ["data.n_train=64", "data.n_val=16", "data.n_test=32", "data.block_size=16"]


def test_a_transformer_on_markov_writes_text_samples_and_no_image_metrics(tmp_path):
    cfg = tiny_config("transformer", "markov", *SMALL_MARKOV)
    outcome = run(cfg, tmp_path)
    m = outcome.result["metrics"]
    assert m["bpd_kind"] == "exact" and m["entropy_rate_bpc"] < m["entropy_bpd"]
    assert m["entropy_gap"] == m["bpd"] - m["entropy_bpd"]
    assert "images only" in m["sample_quality_not_applicable"]
    assert not {"fd", "kd", "precision", "memorized_fraction"} & set(m)
    lines = (outcome.directory / "samples.txt").read_text().splitlines()
    assert len(lines) == cfg.eval.n_samples
    assert all(len(line) == 16 and set(line) <= set(SYMBOLS[: cfg.data.alphabet]) for line in lines)
    assert not (outcome.directory / "samples.png").exists()
    assert not (tmp_path / "features").exists()  # no feature extractor trained for sequences
    text = summary(outcome.record, outcome.directory, False)
    assert "true entropy rate (bits/token)" in text and "sample quality n/a" in text


def test_bits_per_byte_divide_the_total_bits_by_the_test_texts_bytes(tmp_path):
    """Two-byte characters make bytes and characters differ: bits per byte is the model's total
    bits on the scored test windows over their UTF-8 bytes, counted here from the file."""
    text = "Ça été déjà vu à Noël, naïve idée.\n" * 60
    path = tmp_path / "fr.txt"
    path.write_text(text, encoding="utf-8")
    overrides = [f"data.path={path}", "data.block_size=16", "eval.likelihood_examples=3"]
    outcome = run(tiny_config("transformer", "text", *overrides), tmp_path / "results")
    m = outcome.result["metrics"]
    scored = contiguous_parts(text, 0.05, 0.05)[2][: 3 * 16]  # the first 3 test windows
    nbytes = len(scored.encode())
    assert nbytes > len(scored)
    assert abs(m["bits_per_byte"] - m["bpd"] * 16 * 3 / nbytes) < 1e-9
    lines = (outcome.directory / "samples.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8 and all("\n" not in line for line in lines)  # breaks are escaped


def test_samples_txt_keeps_one_sample_per_line(tmp_path):
    from genbench.evaluation.scorecard import save_text

    texts = ["a\nb", "back\\slash", "cr\r"]
    save_text(torch.arange(3).unsqueeze(1), lambda x: texts[int(x[0])], tmp_path / "s.txt")
    lines = (tmp_path / "s.txt").read_text().split("\n")[:-1]
    assert lines == ["a\\nb", "back\\\\slash", "cr\\r"]
