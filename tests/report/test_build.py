"""The report: built from stored runs alone, its tables and commands right, and it opens in a
real browser (headless Chromium) with every image loaded."""

import re
import shlex
import shutil
import subprocess

import pytest

from genbench.cli import main
from genbench.config import resolve
from genbench.report.build import build_report, load_runs, reproduce
from genbench.runner import run
from tests.conftest import tiny_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    for seed in (0, 1):
        run(tiny_config("vae", "digits", "trainer.max_epochs=2", seed=seed), out)
        for fraction in (0.3, 1.0):
            run(resolve("logreg", "digits", seed, [f"data.train_fraction={fraction}"]), out)
            run(resolve("naive-bayes", "digits", seed, [f"data.train_fraction={fraction}"]), out)
    run(tiny_config("ae", "digits", "trainer.max_epochs=2"), out)
    return out


def test_report_tables_figures_and_commands(results, tmp_path):
    index = build_report(results, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert index.exists() and "### Generative models" in text and "### Classifiers" in text
    vae_row = next(line for line in text.splitlines() if line.startswith("| vae (quick preset) |"))
    assert "| 2 |" in vae_row and "±" in vae_row  # two seeds
    assert "(elbo, first 100 of 450)" in vae_row  # the quick preset's likelihood, said so
    assert "| reference-train (50 samples) (reference) |" in text
    assert "| model | seeds | bpd ↓ | FD ↓ |" in text  # every metric says its direction
    assert "Runs on the quick preset are smoke tests" in text  # never marked best: none here
    assert "- FD ↓: Fréchet distance" in text
    for name in (
        "pareto-digits.png",
        "curves-digits.png",
        "calibration-digits.png",
        "data-efficiency-digits.png",
    ):
        assert (tmp_path / "assets" / name).stat().st_size > 0, name


def test_reproduce_command_gives_back_the_same_run(results):
    runs = load_runs(results)
    for config in runs["config"]:
        if "model_name" not in config or config["model_name"].startswith("reference"):
            continue
        args = shlex.split(reproduce(config))[2:]  # drop "genbench run"
        model, dataset, seed = args[1], args[3], int(args[5])
        overrides = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
        assert resolve(model, dataset, seed, overrides).to_dict() == config


def test_cli_report_without_runs_is_a_user_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no finished runs" in capsys.readouterr().err


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_report_renders_in_headless_chromium(results, tmp_path):
    index = build_report(results, tmp_path / "report")
    url = index.resolve().as_uri()
    load = ["--virtual-time-budget=5000", "--dump-dom", url]
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'p1'}", *load],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-broken-images="0"' in body
    images = int(re.search(r'data-images="(\d+)"', body).group(1))
    assert images >= 6
    assert int(re.search(r'data-charts="(\d+)"', body).group(1)) == 2  # Pareto, data efficiency
    for table in re.findall(r'<table class="sortable">.*?</table>', dom, flags=re.S):
        assert len(re.findall(r"<tr>", table)) >= 3  # header and at least two rows
    screenshot = tmp_path / "report.png"
    shoot = ["--window-size=1200,2400", f"--screenshot={screenshot}", url]
    subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'p2'}", *shoot],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert screenshot.stat().st_size > 10_000
