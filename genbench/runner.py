"""The names a script needs to run genbench from Python, where they have always been imported
from; the code is in genbench.run (one module per concern)."""

from genbench.environment import describe_device, versions
from genbench.paths import features_dir
from genbench.run.build import build_classifier, build_model, default_data_dir, load_dataset
from genbench.run.execute import RunOutcome, run

__all__ = [
    "RunOutcome",
    "build_classifier",
    "build_model",
    "default_data_dir",
    "describe_device",
    "features_dir",
    "load_dataset",
    "run",
    "versions",
]
