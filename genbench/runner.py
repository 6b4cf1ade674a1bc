"""One run, end to end: config -> data -> model -> Trainer -> scorecard -> results/runs/<run_id>/.

A finished run (status done or diverged) is found by its id and reported, not trained again; an
interrupted one resumes from its last checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from genbench import __version__
from genbench.config import RunConfig
from genbench.data.base import Dataset, keep_fraction
from genbench.errors import GenbenchError
from genbench.registry import is_classifier, lookup, require_applicable
from genbench.results.store import (
    FINISHED,
    RESULT,
    ensure_writable,
    read_result,
    run_dir,
    run_lock,
    warn_stderr,
    write_json_atomic,
    write_text_atomic,
)


def default_data_dir() -> Path:
    """Where datasets that need files are looked for: $GENBENCH_DATA, else ~/.cache/genbench."""
    return Path(os.environ.get("GENBENCH_DATA") or Path.home() / ".cache" / "genbench")


@dataclass
class RunOutcome:
    result: dict[str, Any]
    directory: Path
    reused: bool  # True: an earlier finished run with the same id was found and not retrained


def load_dataset(cfg: RunConfig, data_dir: Path | None = None) -> Dataset:
    """The run's dataset, with `data.train_fraction` of its train and val splits kept (stratified,
    chosen by the run's seed); the test split is never reduced."""
    family = lookup("dataset", cfg.dataset_name).load()
    data = family.load(cfg.data, data_dir or default_data_dir())
    data.train = keep_fraction(data.train, cfg.data.train_fraction, cfg.seed)
    data.val = keep_fraction(data.val, cfg.data.train_fraction, cfg.seed)
    return data


def build_model(cfg: RunConfig, data: Dataset):
    """Seed, then build the model for the data: the same seed gives the same initial weights."""
    import lightning.pytorch as pl

    model_cls = lookup("model", cfg.model_name).load()
    require_applicable(cfg.model_name, cfg.dataset_name, data.spec)
    pl.seed_everything(cfg.seed, verbose=False)
    model = model_cls(data.spec, cfg.model)
    if not model.automatic_optimization and cfg.trainer.gradient_clip_val > 0:
        raise GenbenchError(
            f"trainer.gradient_clip_val must be 0 for {cfg.model_name}: it steps its own "
            "optimizers, and Lightning clips only what it steps"
        )
    return model


def build_classifier(cfg: RunConfig, data: Dataset, directory: Path):
    """The run's scikit-learn estimator; the dataset must have labels."""
    require_applicable(cfg.model_name, cfg.dataset_name, data.spec)
    import lightning.pytorch as pl

    pl.seed_everything(cfg.seed, verbose=False)
    family = lookup("model", cfg.model_name).load()
    estimator = family.build(cfg, data.spec, directory)
    if data.spec.num_levels is None and family.scale_inputs:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        estimator = make_pipeline(StandardScaler(), estimator)  # raw features differ in scale
    return estimator


def run(
    cfg: RunConfig,
    out: Path,
    data_dir: Path | None = None,
    force: bool = False,
    progress: bool | None = None,
    announce: Callable[[str], None] | None = None,
    wait: bool = False,
) -> RunOutcome | None:
    """Train and score one run, or return the stored result of the same finished run.

    `announce` is called with a one-line description once the inputs are known to be valid
    and training is about to start. If another process is training the same run, fail at
    once, or with `wait` wait for it (and then reuse its result). In the processes Lightning
    starts for the other ranks of a multi-process run (trainer.strategy=ddp), it trains along
    and returns None: rank 0 evaluates and writes.
    """
    directory = run_dir(out, cfg.run_id)
    if secondary_process():  # another rank of a multi-process run: train along, rank 0 writes
        data = load_dataset(cfg, data_dir)
        train_and_score(cfg, data, build_model(cfg, data), directory, False, None)
        return None
    ensure_writable(out)
    if (directory / RESULT).is_dir():  # a damaged store: the result could not be written
        raise GenbenchError(f"{directory / RESULT} is a folder where the run's result belongs")
    previous = read_result(directory)
    if previous is not None and previous.get("status") in FINISHED and not force:
        return RunOutcome(previous, directory, reused=True)

    started = time.perf_counter()
    data = load_dataset(cfg, data_dir)
    data_seconds = time.perf_counter() - started
    # building raises GenbenchError if the model does not fit the data: before anything is written
    classifier = is_classifier(cfg.model_name)
    model = build_classifier(cfg, data, directory) if classifier else build_model(cfg, data)
    with run_lock(directory, wait=wait):
        previous = read_result(directory)  # another process may have finished it meanwhile
        if previous is not None and previous.get("status") in FINISHED and not force:
            return RunOutcome(previous, directory, reused=True)
        if force:
            clear_run(directory)
        write_text_atomic(directory / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        if classifier:
            result = fit_and_score(cfg, data, model, directory, announce)
        else:
            # before training: a multi-process run's environment must not reach the extractor's
            # own Trainer, and later runs find it cached
            space = None
            if cfg.eval.quality_samples > 0:
                space = quality_space(cfg, data, data_dir, out, announce)
            result = train_and_score(cfg, data, model, directory, progress, announce, space)
        result["timings"]["data_seconds"] = data_seconds
        result["timings"]["total_seconds"] = time.perf_counter() - started
        write_json_atomic(directory / RESULT, result)
    return RunOutcome(result, directory, reused=False)


def secondary_process() -> bool:
    """Whether this process is one Lightning started for a rank other than 0 (it sets
    LOCAL_RANK and NODE_RANK in their environment)."""
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"


def clear_run(directory: Path) -> None:
    """Remove what an earlier attempt of this run wrote (for --force), keeping the lock file."""
    for path in directory.iterdir():
        if path.name != ".lock":
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def train_and_score(
    cfg: RunConfig,
    data: Dataset,
    model: Any,
    directory: Path,
    progress: bool | None,
    announce: Callable[[str], None] | None,
    space: Any = None,
) -> dict[str, Any]:
    """Fit (resuming from last.ckpt if there is one), then score the best checkpoint; `space`
    is the feature space sample quality is measured in (None: not measured)."""
    say = announce or warn_stderr
    last = resumable(directory / "checkpoints" / "last.ckpt", say)
    resumed_from = None if last is None else str(last)
    if announce is not None:
        verb = "resuming" if resumed_from else "training"
        announce(f"{verb} {cfg.model_name} on {cfg.dataset_name}, seed {cfg.seed} -> {directory}")

    from genbench.data.loader import TensorDataModule
    from genbench.training import Diverged, make_trainer

    trainer, best, clock = make_trainer(cfg.trainer, directory, progress, model.monitor)
    datamodule = TensorDataModule(data, cfg.trainer.batch_size, cfg.eval.batch_size, cfg.seed)
    status, diverged_step = "done", None
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=resumed_from)
    except Diverged as e:
        status, diverged_step = "diverged", e.step
    except SystemExit:  # Lightning turns Ctrl-C and SIGTERM into SystemExit after saving state
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning set it to ignore
        raise KeyboardInterrupt from None
    train_seconds = clock.seconds
    if not trainer.is_global_zero:
        return {}

    metrics: dict[str, Any] = {
        "train_seconds": train_seconds,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
    }
    eval_seconds = 0.0
    if status == "done":
        import torch

        from genbench.evaluation.scorecard import peak_memory, score_generative

        if best.best_model_path:
            state = torch.load(best.best_model_path, map_location=model.device, weights_only=True)
            model.load_state_dict(state["state_dict"])
            metrics["best_epoch"] = int(state["epoch"]) + 1  # from 1, as the epoch lines count
        model.eval()
        model.after_training(data.train.to(model.device))
        evaluate_started = time.perf_counter()
        metrics.update(score_generative(model, data, cfg.eval, cfg.seed, directory, space))
        eval_seconds = time.perf_counter() - evaluate_started
        seen = trainer.current_epoch * len(data.train)
        metrics["train_examples_per_second"] = seen / train_seconds if train_seconds else None
        metrics.update(peak_memory(model.device))
    else:
        metrics["diverged_step"] = diverged_step

    timings = {"train_seconds": train_seconds, "eval_seconds": eval_seconds}
    return record(cfg, data, status, metrics, model.device, timings, resumed_from is not None)


# what Lightning reads back from a checkpoint to resume training
RESUME_KEYS = frozenset({"state_dict", "optimizer_states", "loops", "epoch", "global_step"})


def resumable(path: Path, say: Callable[[str], None]) -> Path | None:
    """`path` if it holds a training state to resume from. A damaged one (truncated, random
    bytes, not a Lightning checkpoint) is moved aside, never deleted, and said; None then
    means the run starts again from scratch."""
    if not path.exists():
        return None
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        missing = RESUME_KEYS - set(state) if isinstance(state, dict) else RESUME_KEYS
        problem = f"it lacks {', '.join(sorted(missing))}" if missing else None
    except Exception as e:  # damaged files raise RuntimeError, UnpicklingError, EOFError, ...
        problem = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:80]}"
    if problem is None:
        return path
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(aside)
    say(f"checkpoint {path} could not be read ({problem}); moved to {aside.name}; starting over")
    return None


def features_dir(out: Path) -> Path:
    """Where feature extractors are cached: $GENBENCH_FEATURES, else <results>/features."""
    return Path(os.environ.get("GENBENCH_FEATURES") or out / "features")


def quality_space(
    cfg: RunConfig,
    data: Dataset,
    data_dir: Path | None,
    out: Path,
    announce: Callable[[str], None] | None = None,
) -> Any:
    """The dataset's feature space (trained on its full training split, once; `announce` says
    so first), and beside the runs the reference rows of real training images and of noise."""
    from genbench.evaluation.features import feature_space

    full = data
    if cfg.data.train_fraction < 1.0:
        full = (
            lookup("dataset", cfg.dataset_name)
            .load()
            .load(cfg.data, data_dir or default_data_dir())
        )
    with preserved_rng():  # training the extractor (the first time) must not change the run's
        space = feature_space(cfg.dataset_name, full, cfg.data, features_dir(out), announce)
        write_references(cfg, full, space, out)
    return space


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore torch's, numpy's and Python's global random states afterwards."""
    import random

    import numpy as np
    import torch

    states = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
        yield
    random.setstate(states[0])
    np.random.set_state(states[1])


def write_references(cfg: RunConfig, data: Dataset, space: Any, out: Path) -> None:
    """Store the train-vs-test and noise-vs-test sample-quality rows for this dataset, feature
    space and number of samples, unless they are stored already."""
    from genbench.evaluation.scorecard import reference_quality

    n = cfg.eval.quality_samples
    ids = {kind: f"reference-{kind}-{space.id}-n{n}" for kind in ("train", "noise")}
    if all(read_result(run_dir(out, run_id)) is not None for run_id in ids.values()):
        return
    import torch

    for kind, metrics in reference_quality(data, space, n, seed=0).items():
        record = {
            "run_id": ids[kind],
            "model": f"reference-{kind}",
            "dataset": cfg.dataset_name,
            "seed": 0,
            "status": "done",
            "kind": "reference",
            "metrics": metrics,
            "config": {"dataset_name": cfg.dataset_name, "data": dataclasses.asdict(cfg.data)},
            "versions": versions(),
            "device": describe_device(torch.device("cpu")),
            "timings": {},
        }
        write_json_atomic(run_dir(out, ids[kind]) / RESULT, record)


def fit_and_score(
    cfg: RunConfig,
    data: Dataset,
    estimator: Any,
    directory: Path,
    announce: Callable[[str], None] | None,
) -> dict[str, Any]:
    """Fit a classifier (on train and val together unless it uses validation data itself), then
    score its predictions on the test split with the classification scorecard."""
    import numpy as np

    from genbench.classifiers.base import features
    from genbench.evaluation.classification import (
        calibration_bins,
        classification_metrics,
        complexity,
        save_confusion,
    )

    if announce is not None:
        announce(f"fitting {cfg.model_name} on {cfg.dataset_name}, seed {cfg.seed} -> {directory}")
    family = lookup("model", cfg.model_name).load()
    (x_train, y_train), (x_val, y_val) = features(data.train), features(data.val)
    x_test, y_test = features(data.test)
    started = time.perf_counter()
    if family.uses_validation:
        estimator.fit(x_train, y_train, validation=(x_val, y_val))
    else:
        estimator.fit(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]))
    fit_seconds = time.perf_counter() - started

    started = time.perf_counter()
    proba_seen = estimator.predict_proba(x_test)  # columns: the classes seen in training
    predicted = estimator.predict(x_test)
    predict_seconds = time.perf_counter() - started
    num_classes = data.spec.num_classes
    proba = np.zeros((len(x_test), num_classes))
    proba[:, estimator.classes_.astype(int)] = proba_seen

    metrics: dict[str, Any] = classification_metrics(proba, predicted, y_test, num_classes)
    if hasattr(estimator, "likelihood_kind_"):  # a generative classifier: which log p(x|y)
        metrics["likelihood_kind"] = estimator.likelihood_kind_
    metrics |= complexity(estimator)
    metrics |= {
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "n_train": len(x_train) + (0 if family.uses_validation else len(x_val)),
    }
    save_confusion(predicted, y_test, num_classes, directory)
    write_json_atomic(directory / "calibration.json", calibration_bins(proba, y_test))
    import torch

    timings = {"fit_seconds": fit_seconds, "predict_seconds": predict_seconds}
    return record(cfg, data, "done", metrics, torch.device("cpu"), timings, resumed=False)


def record(
    cfg: RunConfig,
    data: Dataset,
    status: str,
    metrics: dict[str, Any],
    device: Any,
    timings: dict[str, float],
    resumed: bool,
) -> dict[str, Any]:
    """A run's result.json content."""
    return {
        "run_id": cfg.run_id,
        "model": cfg.model_name,
        "dataset": cfg.dataset_name,
        "seed": cfg.seed,
        "status": status,
        "kind": "classifier" if is_classifier(cfg.model_name) else "generative",
        "metrics": metrics,
        "config": cfg.to_dict(),
        "data_spec": {
            "shape": list(data.spec.shape),
            "num_levels": data.spec.num_levels,
            "num_classes": data.spec.num_classes,
        },
        "versions": versions(),
        "device": describe_device(device),
        "timings": timings,
        "resumed": resumed,
    }


@cache
def versions() -> dict[str, str | None]:
    import lightning
    import numpy
    import sklearn
    import torch

    return {
        "python": platform.python_version(),
        "genbench": __version__,
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "git_sha": git_sha(),
    }


def git_sha() -> str | None:
    """genbench's source commit, '-dirty' if changed since; None outside a git checkout."""
    source = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty else "")


def describe_device(device: Any) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "type": device.type,
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
    else:
        info["name"] = platform.processor() or platform.machine()
    return info
