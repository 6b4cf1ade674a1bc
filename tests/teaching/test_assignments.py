"""Every built-in assignment: reference full, stubs 0, planted bugs caught (the benchmark runs
in CI's `genbench assignment selftest`), and its student folder holds no teacher material."""

import json

import pytest

from genbench.cli import main
from genbench.teaching import source
from genbench.teaching.selftest import selftest
from genbench.teaching.spec import load, names


@pytest.mark.parametrize("name", names())
@pytest.mark.slow
def test_selftest_passes(name):
    verdicts = selftest(load(name), benchmark=False, say=lambda line: None)
    assert len(verdicts) >= 2 + 4  # reference, stubs and at least four planted bugs
    assert all(v.ok for v in verdicts), [v for v in verdicts if not v.ok]


def test_the_student_folder_has_stubs_and_no_teacher_material(tmp_path, capsys):
    a = load("attention")
    assert main(["assignment", "make", "attention", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "attention.py").read_text()
    assert text.count("raise NotImplementedError") == len(a.tasks)
    assert "tril(diagonal=s - t)" not in text  # the reference answer
    everything = "".join(p.read_text() for p in tmp_path.iterdir())
    for bug in a.bugs:
        assert bug.name not in everything
    hidden = [c.name for c in a.checks() if c.hidden]
    assert not any(name in everything for name in hidden)
    json.loads((tmp_path / "ASSIGNMENT.ipynb").read_text())
    assert main(["assignment", "make", "attention", "--out", str(tmp_path)]) == 2  # no overwrite
    assert "already holds" in capsys.readouterr().err
    assert text == (tmp_path / "attention.py").read_text()


def test_impl_runs_the_model_with_the_students_functions(tmp_path, capsys):
    folder = tmp_path / "student"
    folder.mkdir()
    a = load("naive-bayes")
    (folder / a.student_file).write_text(source.reference_file(a))
    out = tmp_path / "results"
    assert main(["run", "--model", "naive-bayes", "--dataset", "digits", "--impl", str(folder),
                 "--out", str(out)]) == 0  # fmt: skip
    result = json.loads(next(out.glob("runs/*/result.json")).read_text())
    assert result["config"]["impl"]["assignment"] == "naive-bayes"
    assert result["config"]["model"]["variant"] == "categorical"
    (folder / a.student_file).write_text(source.stub_file(a))
    assert main(["run", "--model", "naive-bayes", "--dataset", "digits", "--impl", str(folder),
                 "--out", str(out)]) == 2  # fmt: skip
    assert "implement fit" in capsys.readouterr().err


@pytest.mark.parametrize("name", names())
def test_impl_reaches_every_caller_of_a_task(name):
    """--impl swaps a task's function in the module that defines it; a genbench module holding
    its own name for that function (`from x import f`) would keep calling the reference."""
    import sys

    from genbench.registry import lookup

    a = load(name)
    lookup("model", a.model).load()  # the model that calls the tasks, and what it imports
    for task in a.tasks:
        original = task.function()
        for module_name, module in list(sys.modules.items()):
            if not module_name.startswith("genbench.") or module_name.startswith(
                "genbench.teaching"
            ):
                continue
            owner = task.reference.partition(":")[0]
            aliases = [k for k, v in vars(module).items() if v is original]
            assert module_name == owner or not aliases, f"{module_name}.{aliases} aliases it"
