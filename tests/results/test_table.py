"""`genbench results`: the default view fits 100 columns, --columns and --all choose columns,
counts stay integers, a metric a run lacks is `-`, and the LaTeX compiles with booktabs."""

import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from genbench.cli import main
from genbench.results.record import RunResult
from genbench.results.store import run_dir, write_result
from genbench.results.table import COLUMNS

SPACE = "fashion-mnist-cnn-3f2a9c1b07"  # a feature space's id, as genbench.evaluation makes it
GENERATIVE = {
    "bpd_kind": "elbo", "bpd": 3.21347, "bpd_se": 0.0123, "bpd_iwae": 3.1502, "bpd_iwae_se": 0.011,
    "bpd_iwae_k": 4, "bpd_n": 100, "fd": 1234.5678, "kd": 0.1234, "precision": 0.71,
    "recall": 0.8, "density": 0.93, "coverage": 0.88, "memorized_fraction": 0.0,
    "samples_per_second": 12345.6, "params": 1234567, "train_seconds": 12345.6, "epochs": 20,
    "best_epoch": 17, "steps": 93800, "feature_space": SPACE,
}  # fmt: skip
CLASSIFIER = {
    "accuracy": 0.95614, "nll": 0.1234, "ece": 0.0321, "f1_macro": 0.9512,
    "likelihood_kind": "exact", "train_seconds": 81.25, "epochs": 12, "best_epoch": 9,
    "fit_seconds": 81.9, "predict_seconds": 0.012,
}  # fmt: skip


def run_id(model: str, dataset: str, seed: int) -> str:
    """A run id of the form genbench.config.RunConfig.run_id makes."""
    digest = hashlib.sha256(f"{model}{dataset}{seed}".encode()).hexdigest()[:8]
    return f"{model}-{dataset}-s{seed}-{digest}"


def store(out: Path, *runs: RunResult) -> list[str]:
    for run in runs:
        write_result(run_dir(out, run.run_id), run)
    return ["--out", str(out)]


def realistic(out: Path) -> list[str]:
    """Runs of every kind, with the longest registered names and wide numbers."""
    return store(
        out,
        RunResult(run_id("transformer", "fashion-mnist", 12), "transformer", "fashion-mnist",
                  12, "done", "generative", metrics=GENERATIVE),
        RunResult(run_id("gan", "fashion-mnist", 1), "gan", "fashion-mnist", 1, "diverged",
                  "generative", metrics={"fd": 250.1, "epochs": 3, "diverged_step": 512}),
        RunResult(run_id("bayes-transformer", "breast-cancer", 2), "bayes-transformer",
                  "breast-cancer", 2, "done", "classifier", metrics=CLASSIFIER),
        RunResult(run_id("svm", "iris", 0), "svm", "iris", 0, "failed", error="out of memory"),
        RunResult(f"reference-train-{SPACE}-n1000", "reference-train", "fashion-mnist", 0,
                  "done", "reference", metrics={"fd": 0.512, "precision": 0.75}),
    )  # fmt: skip


def odd(out: Path) -> list[str]:
    """Names with every character LaTeX treats specially."""
    metrics = {**GENERATIVE, "feature_space": r"a_b%c&d#e$f{g}h~i^j\k", "bpd_kind": "elbo_50%"}
    return store(
        out,
        RunResult(run_id("my_vae", "digits_10%", 0), "my_vae", "digits_10%", 0, "done",
                  metrics=metrics),
        RunResult("tuned_#1&{x}~^$\\", "vae", "bars", 3, "done", metrics={"accuracy": 0.5}),
    )  # fmt: skip


def long_names(out: Path) -> list[str]:
    """A model name longer than any registered one, a six-digit seed."""
    long = "a-model-registered-with-a-very-long-name"
    return store(out, RunResult(run_id(long, "fashion-mnist", 123456), long, "fashion-mnist",
                                123456, "done", metrics=GENERATIVE | CLASSIFIER))  # fmt: skip


def results(capsys, *args: str, left_out: bool = False) -> str:
    """stdout of `genbench results ARGS`; stderr empty, or with `left_out` the one warning that
    names the columns left out to fit (a paper's table keeps its names whole)."""
    assert main(["results", *args]) == 0
    captured = capsys.readouterr()
    if left_out and captured.err:
        (line,) = captured.err.splitlines()
        assert line.startswith("genbench: warning: left out ")
    else:
        assert captured.err == ""
    return captured.out


def test_the_default_table_fits_100_columns(capsys, tmp_path):
    out = realistic(tmp_path)
    text = results(capsys, *out)
    lines = text.splitlines()
    assert len(lines) == 6 and max(map(len, lines)) <= 100, text
    assert lines[0].split() == ["id", "model", "dataset", "seed", "status", "bpd", "FD",
                                "accuracy", "train", "s"]  # fmt: skip
    digest = run_id("transformer", "fashion-mnist", 12).rsplit("-", 1)[1]
    assert lines[-1].split()[:5] == [digest, "transformer", "fashion-mnist", "12", "done"]
    # numbers as the metric table formats them, `-` where a run has no such metric
    assert lines[-1].split()[5:] == ["3.213", "1234.568", "-", "12345.6"]
    assert lines[1].split()[-4:] == ["-", "-", "0.9561", "81.2"]
    # a headline metric no run has is not shown
    store(tmp_path / "gans", RunResult(run_id("gan", "bars", 0), "gan", "bars", 0, "done",
                                       metrics={"fd": 3.0}))  # fmt: skip
    assert results(capsys, "--out", str(tmp_path / "gans")).split()[:6] == [
        "id", "model", "dataset", "seed", "status", "FD",
    ]  # fmt: skip


def test_too_long_names_are_cut_short_to_fit(capsys, tmp_path):
    lines = results(capsys, *long_names(tmp_path)).splitlines()
    assert max(map(len, lines)) <= 100, lines
    assert lines[1].split()[1].startswith("a-model-regis") and lines[1].split()[1].endswith("…")
    assert lines[1].split()[5:] == ["3.213", "1234.568", "0.9561", "81.2"]  # numbers never cut


def test_columns_that_cannot_fit_are_left_out_with_a_warning(capsys, tmp_path):
    huge = {name: 1e15 for name in ("bpd", "fd", "accuracy", "train_seconds")}
    out = store(tmp_path, RunResult(run_id("vae", "digits", 0), "vae", "digits", 0, "done",
                                    metrics=huge))  # fmt: skip
    assert main(["results", *out]) == 0
    captured = capsys.readouterr()
    assert max(map(len, captured.out.splitlines())) <= 100
    assert captured.out.split()[:6] == ["id", "model", "dataset", "seed", "status", "bpd"]
    (warning,) = captured.err.splitlines()
    assert warning.startswith("genbench: warning: left out ") and "--columns" in warning


def test_columns_chooses_the_columns_in_their_order(capsys, tmp_path):
    out = realistic(tmp_path)
    lines = results(capsys, *out, "--columns", "run_id,epochs,bpd_n").splitlines()
    assert lines[0].split() == ["run_id", "epochs", "bpd_n"]
    assert lines[-1].split() == [run_id("transformer", "fashion-mnist", 12), "20", "100"]
    assert lines[4].split() == [run_id("svm", "iris", 0), "-", "-"]


@pytest.mark.parametrize("columns", ["id,bogus", "id,,model", "fd,FD"])
def test_an_unknown_column_is_one_line_and_exit_2(capsys, tmp_path, columns):
    out = realistic(tmp_path)
    assert main(["results", *out, "--columns", columns]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("genbench: error: ")
    if columns != "id,,model":
        assert f"unknown column '{columns.split(',')[1]}'" in line
        assert "valid: " in line and "run_id" in line and "train_seconds" in line


def test_columns_and_all_are_exclusive(capsys, tmp_path):
    assert main(["results", *realistic(tmp_path), "--all", "--columns", "id"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1


def test_all_has_every_column(capsys, tmp_path):
    out = realistic(tmp_path)
    (record,) = [r for r in json.loads(results(capsys, *out, "--all", "--format", "json"))
                 if r["model"] == "transformer"]  # fmt: skip
    assert set(record) == {"run_id", "model", "dataset", "seed", "status", *GENERATIVE,
                           *CLASSIFIER, "diverged_step"}  # fmt: skip
    header = results(capsys, *out, "--all").splitlines()[0]
    assert "bpd (iwae)" in header and "diverged_step" in header and "feature_space" in header


def test_counts_stay_integers_in_json_and_csv(capsys, tmp_path):
    out = realistic(tmp_path)
    rows = json.loads(results(capsys, *out, "--format", "json"))
    by_model = {r["model"]: r for r in rows}
    transformer, gan = by_model["transformer"], by_model["gan"]
    for name in ("seed", "epochs", "best_epoch", "steps", "bpd_iwae_k", "params", "bpd_n"):
        assert type(transformer[name]) is int, name
    assert type(gan["epochs"]) is int and type(gan["diverged_step"]) is int
    assert transformer["bpd"] == 3.21347 and transformer["memorized_fraction"] == 0.0
    assert gan["bpd"] is None and by_model["svm"]["accuracy"] is None  # not 0, not NaN
    csv_rows = {r["model"]: r for r in csv.DictReader(io.StringIO(
        results(capsys, *out, "--format", "csv")))}  # fmt: skip
    assert csv_rows["transformer"]["epochs"] == "20" and csv_rows["gan"]["epochs"] == "3"
    assert csv_rows["transformer"]["params"] == "1234567" and csv_rows["gan"]["bpd"] == ""
    assert ".0," not in results(capsys, *out, "--format", "csv", "--columns", "seed,epochs,steps")


def test_markdown_shows_missing_metrics_as_a_dash(capsys, tmp_path):
    lines = results(capsys, *realistic(tmp_path), "--format", "markdown").splitlines()
    assert lines[0] == "| id | model | dataset | seed | status | bpd | FD | accuracy | train s |"
    assert lines[1].startswith("| :--- |") and lines[1].endswith("| ---: |")
    svm = next(line for line in lines if "| svm |" in line)
    assert svm.endswith("| failed | - | - | - | - |")


# a portrait article page, 345pt of text: the default columns fit it
PAGE = "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{longtable}\n"


def compile_latex(tmp_path: Path, table: str, name: str) -> str:
    """pdflatex's log of `table` on a portrait page; fails the test if it does not compile."""
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (apt-get install texlive-latex-base)")
    found = subprocess.run(["kpsewhich", "booktabs.sty"], capture_output=True, text=True)
    if found.returncode != 0 or not found.stdout.strip():
        pytest.skip("booktabs.sty is not installed (apt-get install texlive-latex-recommended)")
    body = f"\\begin{{document}}\n\\begin{{table}}\n\\centering\n{table}\\end{{table}}\n"
    if "{longtable}" in table:  # a longtable breaks across pages: never inside a float
        body = f"\\begin{{document}}\n{table}"
    (tmp_path / f"{name}.tex").write_text(f"{PAGE}{body}\\end{{document}}\n")
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-2000:]
    return log


@pytest.mark.parametrize("fixture", [realistic, odd, long_names])
def test_latex_compiles_with_booktabs_and_fits_the_page(capsys, tmp_path, fixture):
    out = fixture(tmp_path / "results")
    latex = results(capsys, *out, "--format", "latex", left_out=True)
    assert all(rule in latex for rule in ("\\toprule", "\\midrule", "\\bottomrule"))
    log = compile_latex(tmp_path, latex, "default")
    assert "Overfull \\hbox" not in log, latex
    if fixture is odd:  # every special character escaped, in the headers and cells of --all
        assert "my\\_vae" in latex and "digits\\_10\\%" in latex
        every = results(capsys, *out, "--format", "latex", "--all")
        assert "tuned\\_\\#1\\&\\{x\\}\\~{}\\^{}\\$\\textbackslash{}" in every
        assert "run\\_id" in every and "a\\_b\\%c\\&d\\#e\\$f\\{g\\}h\\~{}i" in every
        compile_latex(tmp_path, every, "all")  # compiles; too wide for a page, as --all may be


def test_more_rows_than_a_page_holds_make_a_longtable_that_breaks_across_pages(capsys, tmp_path):
    runs = [RunResult(run_id("vae", "digits", seed), "vae", "digits", seed, "done",
                      metrics=GENERATIVE) for seed in range(90)]  # fmt: skip
    latex = results(capsys, *store(tmp_path / "results", *runs), "--format", "latex")
    assert "\\begin{longtable}" in latex and "\\endhead" in latex
    log = compile_latex(tmp_path, latex, "long")
    pages = int(re.search(r"Output written on long\.pdf \((\d+) pages", log).group(1))
    assert "Overfull" not in log and pages >= 2


def test_every_valid_column_name_is_accepted(capsys, tmp_path):
    out = realistic(tmp_path)
    assert main(["results", *out, "--format", "csv", "--columns", ",".join(COLUMNS)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == ",".join(COLUMNS)
