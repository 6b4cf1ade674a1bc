"""Bad input, every command: exit code 2, one line on stderr naming what is wrong, no traceback,
and every file that existed before left exactly as it was (none changed, removed or added).

Each case runs `genbench.cli.main` in-process against a results folder that already holds a
finished run; a few run as real processes, from another folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from genbench import cli
from genbench.config import resolve
from tests.conftest import subprocess_env

RUN = ["run", "--model", "vae", "--dataset", "digits"]
SUITE = ["suite", "--models", "vae", "--datasets", "digits"]


def setting(*overrides: str, model: str = "vae", dataset: str = "digits") -> list[str]:
    """`genbench run` of `model` on `dataset` with `--set` overrides."""
    return [
        "run",
        "--model",
        model,
        "--dataset",
        dataset,
        *(a for o in overrides for a in ("--set", o)),
    ]


# (command line without --out, text the one line must contain)
BAD_INPUTS = [
    # values out of range, named with the range
    (setting("model.latent_dim=-4"), "model.latent_dim=-4 is not valid: must be an integer > 0"),
    (setting("model.latent_dim=0"), "model.latent_dim=0 is not valid: must be an integer > 0"),
    (setting("model.lr=nan"), "model.lr=nan is not valid: must be a finite number > 0"),
    (setting("model.lr=.inf"), "model.lr=inf is not valid: must be a finite number > 0"),
    (setting("model.lr=-1"), "model.lr=-1 is not valid: must be a finite number > 0"),
    (setting("model.dropout=2"), "model.dropout=2 is not valid: must be a finite number in [0, 1)"),
    (setting("model.hidden=0"), "model.hidden=0 is not valid"),
    (
        setting("trainer.batch_size=-5"),
        "trainer.batch_size=-5 is not valid: must be an integer > 0",
    ),
    (setting("trainer.max_epochs=0"), "trainer.max_epochs=0 is not valid: must be an integer > 0"),
    (setting("trainer.max_steps=0"), "trainer.max_steps=0 is not valid: must be -1 or an integer"),
    (setting("trainer.patience=-3"), "trainer.patience=-3 is not valid: must be an integer >= 0"),
    (setting("trainer.gradient_clip_val=-1"), "trainer.gradient_clip_val=-1 is not valid"),
    (setting("trainer.threads=0"), "trainer.threads=0 is not valid: must be auto or a thread"),
    (setting("trainer.threads=4096"), "trainer.threads=4096 is not valid: must be auto or a"),
    (setting("eval.iwae_k=0"), "eval.iwae_k=0 is not valid: must be an integer > 0"),
    (setting("eval.quality_samples=-5"), "eval.quality_samples=-5 is not valid: must be 0 or"),
    (setting("eval.likelihood_examples=0"), "eval.likelihood_examples=0 is not valid"),
    (setting("eval.batch_size=0"), "eval.batch_size=0 is not valid"),
    (
        setting("data.train_fraction=0"),
        "data.train_fraction=0 is not valid: must be a finite number in (0, 1]",
    ),
    (setting("data.train_fraction=1.5"), "data.train_fraction=1.5 is not valid"),
    (setting("data.size=1", dataset="bars"), "data.size=1 is not valid: must be an integer >= 2"),
    (setting("data.n_val=-1", dataset="mnist"), "data.n_val=-1 is not valid"),
    # choices, machine-dependent ones naming what this machine has
    (
        setting("trainer.accelerator=tpu"),
        "trainer.accelerator='tpu' is not valid: must be one of auto, cpu",
    ),
    (
        setting("trainer.precision=banana"),
        "trainer.precision='banana' is not valid: must be one of 32-true",
    ),
    (
        setting("trainer.strategy=dpp"),
        "trainer.strategy='dpp' is not valid: must be one of auto, ddp",
    ),
    (setting("trainer.devices=0"), "trainer.devices='0' is not valid: must be auto, a count >= 1"),
    (
        setting("model.decoder=gauss"),
        "must be one of auto, categorical, bernoulli, discretized_logistic",
    ),
    # types
    (
        setting("model.latent_dim=abc"),
        "model.latent_dim='abc' is not valid: must be an integer > 0",
    ),
    (setting("model.latent_dim=1.5"), "model.latent_dim=1.5 is not valid"),
    (
        setting("trainer.deterministic=maybe"),
        "trainer.deterministic='maybe' is not valid: must be true or false",
    ),
    # every model's and classifier's rules
    (setting("model.n_head=3", model="transformer"), "must be a multiple of model.n_head (3)"),
    (setting("model.temperature=0", model="transformer"), "model.temperature=0 is not valid"),
    (setting("model.sample_steps=999", model="ddpm"), "must be at most model.timesteps"),
    (
        setting("model.ema_decay=2", model="ddpm"),
        "model.ema_decay=2 is not valid: must be a finite number in [0, 1]",
    ),
    (
        setting("model.n_critic=0", model="gan"),
        "model.n_critic=0 is not valid: must be an integer > 0 or auto",
    ),
    (setting("model.beta1=1", model="gan"), "model.beta1=1 is not valid"),
    (setting("model.gmm_components=0", model="ae"), "model.gmm_components=0 is not valid"),
    (
        setting("model.gamma=wide", model="svm"),
        "model.gamma='wide' is not valid: must be one of scale, auto or",
    ),
    (setting("model.C=0", model="logreg"), "model.C=0 is not valid"),
    (setting("model.n_neighbors=0", model="knn"), "model.n_neighbors=0 is not valid"),
    (setting("model.reg_param=-1", model="qda"), "model.reg_param=-1 is not valid"),
    (setting("model.variant=poisson", model="naive-bayes"), "model.variant='poisson' is not valid"),
    (setting("model.layers=-1", model="mlp"), "model.layers=-1 is not valid"),
    (setting("model.channels=0", model="cnn"), "model.channels=0 is not valid"),
    (setting("model.latent_dim=-4", model="bayes-vae"), "model.latent_dim=-4 is not valid"),
    # names, keys, overrides
    (setting("model.latnt_dim=3"), "did you mean 'model.latent_dim'"),
    (setting("model.latent_dim"), "bad override 'model.latent_dim'"),
    (setting("trainer.preset=slow"), "unknown trainer preset 'slow'"),
    (["run", "--model", "vea", "--dataset", "digits"], "unknown model 'vea' (did you mean 'vae'?)"),
    (["run", "--model", "vae", "--dataset", "digitz"], "did you mean 'digits'"),
    (["run", "--model", "bayes-gan", "--dataset", "digits"], "gan has none"),
    (["run", "--model", "svm", "--dataset", "bars"], "a classifier needs labels"),
    (["run", "--model", "vae", "--dataset", "iris"], "does not apply to iris"),
    (["run", "--model", "gan", "--dataset", "markov"], "gan does not apply to markov: gan needs"),
    (setting("data.path=no-such.txt", dataset="text"), "data.path=no-such.txt: no such file"),
    # the run command's own arguments
    ([*RUN, "--seed", "-1"], "seed=-1 is not valid: must be an integer in [0, 4294967295]"),
    ([*RUN, "--seed", "99999999999999999999"], "seed=99999999999999999999 is not valid"),
    ([*RUN, "--seed", "one"], "argument --seed: invalid int value: 'one'"),
    ([*RUN, "--max-epochs", "-1"], "trainer.max_epochs=-1 is not valid: must be an integer > 0"),
    ([*RUN, "--max-steps", "0"], "trainer.max_steps=0 is not valid"),
    ([*RUN, "--out", ""], "argument --out: must be a path, not empty"),
    ([*RUN, "--data-dir", ""], "argument --data-dir: must be a path, not empty"),
    (["run", "--model", "vae"], "required: --dataset"),
    # suites: fail before any run starts
    ([*SUITE, "--seeds", "-1"], "seed=-1 is not valid: must be an integer in [0, 4294967295]"),
    ([*SUITE, "--seeds", "0,99999999999999999999"], "seed=99999999999999999999 is not valid"),
    ([*SUITE, "--seeds", "a"], "--seeds takes integers"),
    ([*SUITE, "--workers", "0"], "argument --workers: must be an integer >= 1, not 0"),
    ([*SUITE, "--threads-per-run", "-2"], "argument --threads-per-run: must be an integer >= 1"),
    ([*SUITE, "--gpus-per-run", "-1"], "argument --gpus-per-run: must be a number >= 0"),
    ([*SUITE, "--set", "model.lr=-1"], "model.lr=-1 is not valid"),
    ([*SUITE, "--set", "trainer.max_epochs=0"], "trainer.max_epochs=0 is not valid"),
    ([*SUITE, "--grid", "model.latent_dim=8,-4"], "model.latent_dim=-4 is not valid"),
    ([*SUITE, "--grid", "model.latent_dim"], "bad --grid 'model.latent_dim'"),
    (
        ["suite", "--models", "vae,gan", "--datasets", "digits", "--set", "model.width=0"],
        "unknown key",
    ),
    (["suite", "--models", "nope", "--datasets", "digits"], "unknown model 'nope'"),
    (["suite", "no-such-preset"], "unknown suite 'no-such-preset'"),
    (["suite", "--datasets", "digits"], "a suite needs models and datasets"),
    ([*SUITE, "--backend", "slurm"], "argument --backend: invalid choice: 'slurm'"),
    ([*SUITE, "--out", ""], "argument --out: must be a path, not empty"),
    # assignments
    (["assignment", "make", "nope", "--out", "student"], "unknown assignment 'nope'"),
    (["assignment", "make", "attention", "--out", ""], "argument --out: must be a path, not empty"),
    (["assignment", "grade", "--workers", "0"], "argument --workers: must be an integer >= 1"),
    (["assignment", "check", "no-such-folder"], "no-such-folder: not a folder"),
    (["assignment"], "the following arguments are required: verb"),
    ([*RUN, "--impl", ""], "argument --impl: must be a path, not empty"),
    # stored runs: sample and reproduce (the store's run has a result.json without a config)
    (["sample", "nope"], "no run 'nope' under"),
    (["sample", "vae", "-n", "0"], "argument -n: must be an integer >= 1, not 0"),
    (["sample", "vae", "--seed", "-1"], "seed=-1 is not valid"),
    (["sample", "vae", "--set", "model.hidden=3"], "model.hidden cannot be changed when sampling"),
    (["sample", "vae", "--out", "grid.gif"], "the name must end in .png"),
    (["sample", "vae"], "holds no config to rebuild the run from"),
    (["sample", "vae", "--out", ""], "argument --out: must be a path, not empty"),
    (["sample", ""], "a run id must not be empty"),
    (["reproduce", "nope"], "no run 'nope' under"),
    (["reproduce", "vae"], "holds no config to rebuild the run from"),
    (["reproduce", "vae", "--results", ""], "argument --results: must be a path, not empty"),
    (["reproduce", "vae", "--data-dir", ""], "argument --data-dir: must be a path, not empty"),
    # results, report, list, no command
    (["results", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
    (["results", "--out", ""], "argument --out: must be a path, not empty"),
    (["results", "--columns", "id,bogus"], "unknown column 'bogus'; valid: accuracy, best_epoch"),
    (["results", "--columns", "id,"], "--columns takes names like id,model,bpd, got 'id,'"),
    (["results", "--all", "--columns", "id"], "argument --columns: not allowed with argument"),
    (["report", ""], "argument results_dir: must be a path, not empty"),
    (["report", "--out", ""], "argument --out: must be a path, not empty"),
    (["report", "no-such-results"], "no finished runs under no-such-results"),
    (["list", "--all"], "unrecognized arguments: --all"),
    (["lst"], "argument command: invalid choice: 'lst'"),
    ([], "the following arguments are required: command"),
]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A results folder holding one finished run (the default VAE's id), a feature cache and a
    report, as a user's would before they mistype a command."""
    out = tmp_path / "results"
    run_id = resolve("vae", "digits").run_id
    run = out / "runs" / run_id
    (run / "checkpoints").mkdir(parents=True)
    result = {"run_id": run_id, "model": "vae", "dataset": "digits", "seed": 0, "status": "done"}
    (run / "result.json").write_text(json.dumps({**result, "metrics": {"bpd": 2.15}}))
    (run / "config.yaml").write_text("model_name: vae\n")
    (run / "checkpoints" / "best.ckpt").write_bytes(b"weights")
    (out / "features").mkdir()
    (out / "features" / "digits-cnn-0000.pt").write_bytes(b"extractor")
    (out / "report").mkdir()
    (out / "report" / "index.html").write_text("<html></html>")
    return out


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root -> (content, modification time in ns)."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("args", "expected"), BAD_INPUTS, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_bad_input_is_one_line_exit_2_and_changes_no_file(
    args, expected, store, capsys, monkeypatch
):
    monkeypatch.chdir(store.parent)  # relative names (no-such-results) resolve beside the store
    if args and args[0] in ("run", "suite", "results") and "--out" not in args:
        args = [*args, "--out", str(store)]
    if args and args[0] in ("sample", "reproduce") and "--results" not in args:
        args = [*args, "--results", str(store)]
    before = snapshot(store.parent)
    code = cli.main(args)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    assert lines[0].startswith("genbench: error: ") and expected in lines[0], lines[0]
    assert snapshot(store.parent) == before


def test_bad_inputs_cover_every_command():
    commands = {args[0] for args, _ in BAD_INPUTS if args}
    everything = {"run", "suite", "results", "report", "list", "assignment", "sample", "reproduce"}
    assert everything <= commands


def test_a_real_process_from_another_folder(store, tmp_path):
    """One real process (the rest run in-process, for speed): the same line, the same code."""
    args = [*SUITE, "--seeds", "-1"]
    before = snapshot(store)
    proc = subprocess.run(
        [sys.executable, "-m", "genbench", *args, "--out", str(store)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=subprocess_env(),
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    expected = "seed=-1 is not valid: must be an integer in [0, 4294967295]"
    assert proc.stderr.strip() == f"genbench: error: {expected}"
    assert snapshot(store) == before


def test_an_internal_error_is_one_line_naming_the_saved_traceback(capsys, monkeypatch, tmp_path):
    """A bug (not bad input) exits with 1, prints one line, and keeps the traceback in a file."""

    def broken(args):
        raise RuntimeError("something inside broke\nsecond line")

    monkeypatch.setattr(cli, "cmd_list", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert cli.main(["list"]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("genbench: internal error (RuntimeError: something inside broke)")
    saved = Path(lines[0].rsplit("full traceback in ", 1)[1])
    assert saved.parent == tmp_path / "genbench-errors"
    text = saved.read_text()
    assert text.startswith("genbench list\n") and "Traceback" in text and "second line" in text


def test_a_reader_that_stops_early_is_not_an_error(capsys, monkeypatch):
    """`genbench results | head`: the closed pipe ends the command quietly, as SIGPIPE would."""

    def closed_pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "cmd_results", closed_pipe)
    assert cli.main(["results"]) == 141
    assert capsys.readouterr().err == ""
