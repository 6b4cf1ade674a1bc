"""What a run ran on: package versions, genbench's git commit and the device."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from genbench import __version__


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
