"""`genbench sample`: draw from a stored run's best checkpoint, without training again.

The model is rebuilt from the run's recorded config (model.* keys the model reads only when
sampling, such as a transformer's temperature, may be changed), its best.ckpt loaded with
weights_only=True, and `after_training` called on the run's training split as the run did
before it was scored (the autoencoder fits its latent mixture there, a conditional model its
class prior), so the training data must be where the run found it. Everything random, that fit
included, follows `seed`: the same seed gives the same grid.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from genbench.config import RunConfig, check, parse_override
from genbench.constraints import Seed
from genbench.errors import GenbenchError
from genbench.progress import QUIET, Phases
from genbench.registry import MODELS, is_classifier, lookup
from genbench.results.record import RunResult
from genbench.run.stored import find_run, stored_config


@dataclass
class SampleRequest:
    """A checked `genbench sample`: the run, its config with the overrides, where to write."""

    record: RunResult
    cfg: RunConfig
    checkpoint: Path
    n: int
    seed: int
    out: Path


def prepare(
    results: Path, run: str, n: int, seed: int, overrides: list[str], out: Path | None
) -> SampleRequest:
    """Check every input (one-line GenbenchError) before anything is loaded or written."""
    seed = check(seed, Seed, "seed")
    if n < 1:
        raise GenbenchError(f"-n {n} is not valid: must be an integer >= 1")
    if out is not None:
        check_writable(out)
    directory, record = find_run(results, run)
    if record.model not in MODELS:
        what = "a classifier" if is_classifier(record.model) else "not a model's run"
        raise GenbenchError(
            f"run {record.run_id} is {what} ({record.model}): genbench sample draws from "
            "generative models"
        )
    if record.status != "done":
        raise GenbenchError(
            f"run {record.run_id} is {record.status}, not done: it has no scored checkpoint"
        )
    model_cls = lookup("model", record.model).load()
    for text in overrides:
        key, _ = parse_override(text)
        section, _, name = key.partition(".")
        if section != "model" or name not in model_cls.sampling_keys:
            allowed = ", ".join(f"model.{k}" for k in model_cls.sampling_keys)
            raise GenbenchError(
                f"{key} cannot be changed when sampling a stored {record.model}: only keys "
                f"read by sampling alone can ({allowed or f'{record.model} has none'})"
            )
    cfg = stored_config(record, overrides)
    checkpoint = directory / "checkpoints" / "best.ckpt"
    if not checkpoint.is_file():
        raise GenbenchError(f"run {record.run_id} has no checkpoint {checkpoint}")
    if out is None:
        out = Path(f"samples-{record.run_id}-s{seed}.png")
        check_writable(out)
    return SampleRequest(record, cfg, checkpoint, n, seed, out)


def check_writable(out: Path) -> None:
    """A PNG path that can be written: its folder exists and is writable, or can be made."""
    if out.suffix.lower() != ".png":
        raise GenbenchError(f"--out {out}: the grid is a PNG, so the name must end in .png")
    if out.is_dir():
        raise GenbenchError(f"--out {out} is a folder; give a file name ending in .png")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise GenbenchError(f"--out {out}: cannot write under {parent}")


def load_model(request: SampleRequest, data_dir: Path | None):
    """The run's model with its best weights, after_training redone, in eval mode."""
    import lightning.pytorch as pl
    import torch

    from genbench.run.build import build_model, load_dataset

    cfg = request.cfg
    data = load_dataset(cfg, data_dir)
    model = build_model(cfg, data)
    try:
        state = torch.load(request.checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state["state_dict"])
    except Exception as error:  # damaged: RuntimeError, UnpicklingError, EOFError, KeyError
        first = (str(error).splitlines() or [""])[0][:120]
        raise GenbenchError(
            f"run {request.record.run_id}: cannot load {request.checkpoint} "
            f"({type(error).__name__}: {first})"
        ) from None
    model = model.to(sampling_device(cfg)).eval()
    pl.seed_everything(request.seed, verbose=False)  # an after_training fit draws from it
    with torch.no_grad():
        model.after_training(data.train.to(model.device))
    return model, data


def sampling_device(cfg: RunConfig):
    """A CUDA device where the run's accelerator allows one and there is one, else the CPU."""
    import torch

    cuda = cfg.trainer.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return torch.device("cuda" if cuda else "cpu")


def draw(model, n: int, seed: int, phases: Phases = QUIET):
    """(n, *shape) samples on the CPU, drawn as the scorecard draws them (in batches from one
    generator seeded with `seed`); `phases` shows the sampling loop's progress."""
    import torch

    from genbench.evaluation.scorecard import draw as draw_batches

    generator = torch.Generator(device=model.device).manual_seed(seed)
    with torch.no_grad(), phases.phase("sampling", f"drawing {n} samples") as progress:
        return draw_batches(model, n, generator, progress).cpu()


def sample_run(
    results: Path,
    run: str,
    n: int,
    seed: int = 0,
    overrides: list[str] | None = None,
    out: Path | None = None,
    data_dir: Path | None = None,
) -> SampleRequest:
    """Draw `n` samples from a stored run and write them to `request.out` as a grid PNG of
    about as many rows as columns; returns the checked request (the run found, the file)."""
    from genbench.evaluation.images import save_grid

    request = prepare(results, run, n, seed, list(overrides or ()), out)
    model, data = load_model(request, data_dir)
    samples = draw(model, request.n, request.seed, Phases(heading=""))
    save_grid(samples, data.spec.num_levels, request.out, max(1, math.isqrt(request.n)))
    return request
