import json
import subprocess
import sys
import urllib.error

import pytest

from genbench.cli import main
from tests.conftest import QUICK, TINY, subprocess_env
from tests.report.fake import fake_run

TINY_VAE = [a for kv in [*TINY["vae"], *QUICK, "trainer.max_epochs=2"] for a in ("--set", kv)]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model", "nope", "--dataset", "digits"], "unknown model 'nope'; valid: "),
        (
            ["--model", "vae", "--dataset", "digits", "--set", "model.nope=1"],
            "unknown key 'model.nope'",
        ),
        (
            ["--model", "vae", "--dataset", "digits", "--set", "model.latent_dim=abc"],
            "model.latent_dim='abc' is not valid: must be an integer > 0",
        ),
        (["--model", "vae", "--dataset", "digitz"], "did you mean 'digits'"),
        (["--model", "vae"], "required: --dataset"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, expected, capsys, tmp_path):
    assert main(["run", *args, "--out", str(tmp_path)]) == 2
    assert expected in one_line_error(capsys)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_missing_mnist_offline_names_the_folder(capsys, tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    code = main(
        [
            "run",
            "--model",
            "vae",
            "--dataset",
            "mnist",
            "--data-dir",
            str(tmp_path / "d"),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2
    line = one_line_error(capsys)
    assert f"{tmp_path / 'd' / 'MNIST' / 'raw'}" in line and "download failed" in line


def test_unwritable_out(capsys, tmp_path):
    (tmp_path / "f").write_text("keep me")
    assert (
        main(["run", "--model", "vae", "--dataset", "digits", "--out", str(tmp_path / "f" / "out")])
        == 2
    )
    assert "cannot write results to" in one_line_error(capsys)
    assert (tmp_path / "f").read_text() == "keep me"


@pytest.mark.slow
def test_real_process_exits_2_without_traceback(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "genbench",
            "run",
            "--model",
            "vae",
            "--dataset",
            "digits",
            "--set",
            "model.latent_dim=abc",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=subprocess_env(),
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "genbench: error: model.latent_dim='abc' is not valid: must be an integer > 0"
    )


@pytest.mark.slow
def test_run_then_reuse_then_results_table(capsys, tmp_path):
    out = ["--out", str(tmp_path)]
    assert main(["run", "--model", "vae", "--dataset", "digits", *TINY_VAE, *out]) == 0
    first, log = capsys.readouterr()
    # the estimate comes after the first steps, before the first epoch's line
    log = log[log.index("genbench: training vae on digits") :]
    assert log.index("genbench: estimated training time: ") < log.index("\nepoch 1/2 ")
    # the quick preset estimates the likelihood on the first 100 test examples, and says so
    assert "test bpd (elbo, 100 examples)" in first and "test bpd (iwae-4, 100 examples)" in first
    (run_dir,) = (tmp_path / "runs").glob("vae-*")  # beside it: the sample-quality references
    for name in (
        "result.json",
        "config.yaml",
        "samples.png",
        "reconstructions.png",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
    ):
        assert (run_dir / name).is_file(), name
    assert list(run_dir.glob("logs/version_0/metrics.csv"))
    result = json.loads((run_dir / "result.json").read_text())
    assert set(result) >= {
        "run_id",
        "model",
        "dataset",
        "seed",
        "status",
        "metrics",
        "config",
        "versions",
        "device",
        "timings",
    }
    assert result["status"] == "done" and result["run_id"] == run_dir.name
    assert result["timings"]["estimated_train_seconds"] > 0  # beside train_seconds
    # best_epoch counts from 1 in result.json, as the console and the epoch lines do
    best, epochs = result["metrics"]["best_epoch"], result["metrics"]["epochs"]
    assert 1 <= best <= epochs and f"best epoch {best} of {epochs}" in first
    assert {"python", "torch", "lightning", "genbench"} <= set(result["versions"])

    assert main(["run", "--model", "vae", "--dataset", "digits", *TINY_VAE, *out]) == 0
    assert "not retrained" in capsys.readouterr().out
    assert json.loads((run_dir / "result.json").read_text()) == result

    digest = run_dir.name.rsplit("-", 1)[1]  # the default view's short id
    for fmt, marker in (
        ("table", f"\n{digest} "),
        ("csv", "run_id,model"),
        ("markdown", f"| {digest} | vae |"),
        ("json", f'"run_id": "{run_dir.name}"'),
    ):
        assert main(["results", "--format", fmt, *out]) == 0
        text = capsys.readouterr().out
        assert marker in text and "bpd" in text, fmt


def test_a_finished_run_is_reported_without_importing_torch(tmp_path):
    """`genbench run` of a run that already finished finds its result.json from the presets
    alone: torch and Lightning (seconds to import) are never imported."""
    metrics = {"bpd": 2.5, "bpd_se": 0.01, "bpd_kind": "elbo"}
    run = fake_run(tmp_path, "vae", metrics, "trainer.preset=quick", "model.latent_dim=4")
    args = ["run", "--model", "vae", "--dataset", "digits", "--set", "trainer.preset=quick"]
    args += ["--set", "model.latent_dim=4", "--out", str(tmp_path)]
    script = (
        "import sys\nfrom genbench.cli import main\ncode = main(sys.argv[1:])\n"
        "print('exit', code, 'torch' in sys.modules, 'lightning' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True, text=True, cwd=tmp_path, env=subprocess_env(),
    )  # fmt: skip
    assert proc.stdout.splitlines()[-1] == "exit 0 False False", proc.stderr
    assert "vae on digits (seed 0): done earlier; not retrained" in proc.stdout
    assert "2.5000 ± 0.0100" in proc.stdout and run.run_id in proc.stdout
    assert proc.stderr == ""


def test_list_names_every_registered_component(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("digits", "bars", "mnist", "fashion-mnist", "kmnist", "vae"):
        assert f"  {name} " in out
    # which models have a preset for the MNIST family, and which datasets that family holds
    family = next(line for line in out.splitlines() if line.startswith("  mnist ("))
    assert "fashion-mnist" in family.split(":")[0] and "digits" not in family
    assert {"vae", "transformer", "ddpm"} <= set(family.split(": ")[1].split(", "))
