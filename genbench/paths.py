"""Where genbench keeps what outlives a run: downloaded datasets and the sample-quality feature
extractors (trained once per dataset and shared by every results folder).

One user cache folder holds both: `$GENBENCH_CACHE`, else `$XDG_CACHE_HOME/genbench`, else
`~/.cache/genbench`. `$GENBENCH_DATA` and `$GENBENCH_FEATURES` move one part of it elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_home() -> Path:
    """genbench's cache folder: $GENBENCH_CACHE, else $XDG_CACHE_HOME/genbench (an absolute
    path only, as the XDG spec says), else ~/.cache/genbench."""
    if os.environ.get("GENBENCH_CACHE"):
        return Path(os.environ["GENBENCH_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "genbench"


def data_dir() -> Path:
    """Where datasets that need files are looked for: $GENBENCH_DATA, else cache_home()."""
    return Path(os.environ.get("GENBENCH_DATA") or cache_home())


def features_dir() -> Path:
    """Where feature extractors are cached: $GENBENCH_FEATURES, else cache_home()/features."""
    return Path(os.environ.get("GENBENCH_FEATURES") or cache_home() / "features")


def fallback_features_dir(out: Path) -> Path:
    """Where a results folder keeps its own feature extractors when features_dir() cannot be
    written: <results>/features."""
    return out / "features"
