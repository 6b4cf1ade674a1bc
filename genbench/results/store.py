"""The run store: results/runs/<run_id>/ folders, written atomically, read back as a table."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from genbench.errors import GenbenchError
from genbench.evaluation.metrics import METRICS
from genbench.results.record import FINISHED, STATUSES, RunResult

__all__ = ["FINISHED", "RunResult"]  # with the store's own names below

RUNS = "runs"
RESULT = "result.json"


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename, so
    readers see the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be read by others
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def ensure_writable(out: Path) -> None:
    """Fail early, with a one-line error, if results cannot be written under `out`."""
    try:
        (out / RUNS).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out / RUNS):
            pass
    except OSError as e:
        raise GenbenchError(
            f"cannot write results to '{out}': {e.strerror or e}; choose another --out"
        ) from None


@contextlib.contextmanager
def run_lock(directory: Path, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on a run folder, so two processes never train the same run; if
    another holds it, fail at once, or with `wait` block until it is released."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise GenbenchError(
                f"run {directory.name} is being trained by {holder}; wait for it or stop it"
            ) from None
        f.truncate(0)
        f.write(f"process {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_dir(out: Path, run_id: str) -> Path:
    return out / RUNS / run_id


# what a result.json must hold for its run to be listed: field -> type
REQUIRED = {
    "run_id": str,
    "model": str,
    "dataset": str,
    "seed": int,
    "status": str,
    "metrics": dict,
}
NUMBER = (int, float, type(None))  # a metric's value (null: not defined, e.g. no time passed)
# and every "*_kind": names, not numbers
TEXT_METRICS = ("feature_space", "knn_not_applicable", "sample_quality_not_applicable")


class DamagedResult(Exception):
    """A result.json that exists but cannot be used; the message says what is wrong with it."""


def write_result(directory: Path, result: RunResult) -> None:
    """Write a run's result.json, atomically: readers see the old record or the new one."""
    write_json_atomic(directory / RESULT, result.to_json())


def load_result(directory: Path) -> RunResult | None:
    """The run's result.json, None if it has none (the run never finished); raises
    DamagedResult if it is there but unreadable or not of the result's form."""
    try:
        record = json.loads((directory / RESULT).read_bytes().decode("utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except IsADirectoryError:
        raise DamagedResult(f"{RESULT} is a folder") from None
    except UnicodeDecodeError:
        raise DamagedResult(f"{RESULT} is not text") from None
    except json.JSONDecodeError as e:
        raise DamagedResult(f"{RESULT} is not valid JSON ({e.msg}, line {e.lineno})") from None
    except OSError as e:
        raise DamagedResult(f"{RESULT} cannot be read: {e.strerror or e}") from None
    problem = result_problem(record)
    if problem:
        raise DamagedResult(f"{RESULT}: {problem}")
    return RunResult.from_json(record)


def result_problem(record: Any) -> str | None:
    """What is wrong with a parsed result.json's form, or None if nothing is."""
    if not isinstance(record, dict):
        return f"holds a {type(record).__name__}, expected an object"
    for key, kind in REQUIRED.items():
        value = record.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"'{key}' must be a {kind.__name__}, got {json.dumps(value)[:40]}"
    if record["status"] not in STATUSES:
        return f"unknown status '{record['status']}'; valid: {', '.join(STATUSES)}"
    for name, value in record["metrics"].items():
        text = name in TEXT_METRICS or name.endswith("_kind")
        if not (isinstance(value, str) if text else isinstance(value, NUMBER)):
            wanted = "a string" if text else "a number"
            return f"metric '{name}' must be {wanted}, got {json.dumps(value)[:40]}"
    config = record.get("config", {})
    if not isinstance(config, dict) or not all(
        isinstance(config.get(section, {}), dict)
        for section in ("model", "data", "trainer", "eval")
    ):
        return "'config' must be an object of sections (model, data, trainer, eval)"
    return None


def read_result(directory: Path) -> RunResult | None:
    """The run's result.json, or None if it has none (never finished) or it is damaged; a run
    with a damaged result is trained again, and listings of the store name it."""
    try:
        return load_result(directory)
    except DamagedResult:
        return None


def warn_stderr(message: str) -> None:
    print(f"genbench: warning: {message}", file=sys.stderr)


def iter_results(
    out: Path, warn: Callable[[str], None] = warn_stderr
) -> Iterator[tuple[Path, RunResult]]:
    """(run folder, result) for every run in the store with a result. A damaged result.json is
    skipped with a warning naming its folder; files beside the run folders (.DS_Store, strays)
    are ignored, named in a warning unless hidden."""
    runs = out / RUNS
    if not runs.is_dir():
        return
    for directory in sorted(runs.iterdir()):
        if directory.name.startswith("."):
            continue
        if not directory.is_dir():
            warn(f"ignoring {directory}: not a run folder")
            continue
        try:
            result = load_result(directory)
        except DamagedResult as e:
            warn(f"skipping run {directory}: {e}")
            continue
        if result is not None:
            yield directory, result


IDENTITY = ("run_id", "model", "dataset", "seed", "status")


def load_results(out: Path, warn: Callable[[str], None] = warn_stderr):
    """Every stored run as one tidy row: run_id, model, dataset, seed, status, then its metrics;
    damaged runs are left out, each named by `warn`."""
    import pandas as pd

    rows = []
    for _, r in iter_results(out, warn):
        row = {k: getattr(r, k) for k in IDENTITY}
        row.update(r.metrics)
        rows.append(row)
    table = pd.DataFrame(rows)
    # the metrics of genbench.evaluation.metrics first, in its order; others as runs wrote them
    first = [c for c in (*IDENTITY, *(m.name for m in METRICS)) if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]
