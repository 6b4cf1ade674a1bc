"""The run's inputs: its dataset, and the model or classifier built for it."""

from __future__ import annotations

from pathlib import Path

from genbench import paths
from genbench.config import RunConfig
from genbench.data.base import Dataset, keep_fraction
from genbench.errors import GenbenchError
from genbench.registry import lookup, require_applicable


def default_data_dir() -> Path:
    """Where datasets that need files are looked for: $GENBENCH_DATA, else genbench's cache
    folder (genbench.paths)."""
    return paths.data_dir()


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
