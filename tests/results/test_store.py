import json

import pytest

from genbench.errors import GenbenchError
from genbench.results.store import (
    atomic_path,
    ensure_writable,
    load_results,
    run_lock,
    write_json_atomic,
)


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "result.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text('{"a": 2, "trunc')
        raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_results_table_has_one_tidy_row_per_run(tmp_path):
    for seed in (0, 1):
        result = {
            "run_id": f"vae-digits-s{seed}-x",
            "model": "vae",
            "dataset": "digits",
            "seed": seed,
            "status": "done",
            "metrics": {"bpd": 2.0 + seed, "bpd_kind": "elbo"},
        }
        write_json_atomic(tmp_path / "runs" / result["run_id"] / "result.json", result)
    (tmp_path / "runs" / "unfinished").mkdir()
    table = load_results(tmp_path)
    assert list(table["seed"]) == [0, 1] and list(table["bpd"]) == [2.0, 3.0]
    assert {"run_id", "model", "dataset", "status", "bpd_kind"} <= set(table.columns)


def test_a_run_folder_is_locked_against_a_second_trainer(tmp_path):
    with (
        run_lock(tmp_path / "run"),
        pytest.raises(GenbenchError, match="is being trained by process"),
        run_lock(tmp_path / "run"),
    ):
        pass
    with run_lock(tmp_path / "run"):  # released
        pass


def test_unwritable_out_is_a_one_line_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(GenbenchError, match="cannot write results to"):
        ensure_writable(blocker / "out")
