"""How many CPU threads a run computes with (`trainer.threads`), chosen rather than inherited.

torch's default is one thread per physical core. When other work holds those cores, its OpenMP
threads wait on each other (a parallel region ends when its slowest thread does, and an idle
thread spins before it sleeps), and a run can take several times longer than on one thread.
`auto` takes the cores the one-minute load average leaves free, at least one; an explicit
OMP_NUM_THREADS (what a suite sets for each of its runs) is taken as the user's choice.
The count is recorded with the result (`environment.device.cpu_threads`): results can differ
in their last bits between thread counts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping


def auto_threads(cores: int, load: float, default: int) -> int:
    """Threads for `auto`: the cores not busy with other work, round(cores - load), clamped to
    1..default (torch's own choice, the physical cores). At load 0 on 2 cores: 2; at load 2: 1."""
    free = math.floor(cores - load + 0.5)
    return max(1, min(default, free))


def choose_threads(
    setting: int | str,
    default: int,
    environ: Mapping[str, str] = os.environ,
    cores: int | None = None,
    load: float | None = None,
) -> tuple[int, str]:
    """The thread count for `trainer.threads` = `setting` (a count, or "auto") and why, in
    words. `default` is torch's count; `cores` and `load` are read from the system if None."""
    if setting != "auto":
        return int(setting), f"trainer.threads={setting}"
    given = environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given), f"OMP_NUM_THREADS={given}"
    cores = len(os.sched_getaffinity(0)) if cores is None else cores
    load = os.getloadavg()[0] if load is None else load
    count = auto_threads(cores, load, default)
    return count, f"auto: load average {load:.1f} on {cores} cores"


def apply_threads(setting: int | str) -> tuple[int, str]:
    """Set torch's intra-op thread count, and the BLAS and OpenMP pools' sizes, for this
    process from `trainer.threads`; returns the count and the reason."""
    import torch
    from threadpoolctl import threadpool_limits

    count, reason = choose_threads(setting, torch.get_num_threads())
    torch.set_num_threads(count)
    # scikit-learn's and numpy's BLAS and OpenMP pools too: they were sized when first loaded,
    # which in a suite's worker may be before the run chose its count (seen: a logistic
    # regression one test example apart between a Ray worker and a local run)
    threadpool_limits(limits=count)
    return count, reason
