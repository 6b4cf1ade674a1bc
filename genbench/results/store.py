"""The run store: results/runs/<run_id>/ folders, written atomically, read back as a table."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genbench.errors import GenbenchError

RUNS = "runs"
RESULT = "result.json"
FINISHED = ("done", "diverged")  # a run with one of these statuses is not trained again


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


def read_result(directory: Path) -> dict[str, Any] | None:
    """The run's result.json, or None if it has none (never finished) or it is unreadable."""
    try:
        with open(directory / RESULT) as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def iter_results(out: Path) -> Iterator[dict[str, Any]]:
    for directory in sorted((out / RUNS).glob("*")):
        result = read_result(directory)
        if result is not None:
            yield result


IDENTITY = ("run_id", "model", "dataset", "seed", "status")
# headline metrics first, in this order; any others follow as the runs wrote them
METRIC_ORDER = (
    "bpd_kind", "bpd", "bpd_se", "bpd_iwae", "bpd_iwae_se", "bpd_iwae_k",
    "entropy_bpd", "entropy_gap", "entropy_gap_iwae", "recon_bpd", "recon_bpd_se", "recon_mse",
    "fd", "kd", "precision", "recall", "density", "coverage", "classifier_score",
    "memorized_fraction", "accuracy", "nll", "ece", "f1_macro", "likelihood_kind",
    "params", "train_seconds", "epochs", "best_epoch", "steps",
)  # fmt: skip


def load_results(out: Path):
    """Every stored run as one tidy row: run_id, model, dataset, seed, status, then its metrics."""
    import pandas as pd

    rows = []
    for r in iter_results(out):
        row = {k: r.get(k) for k in IDENTITY}
        row.update(r.get("metrics", {}))
        rows.append(row)
    table = pd.DataFrame(rows)
    first = [c for c in (*IDENTITY, *METRIC_ORDER) if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]
