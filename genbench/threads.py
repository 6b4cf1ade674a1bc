"""How many CPU threads a run computes with (`trainer.threads`), chosen rather than inherited.

torch's default is one thread per physical core. When other work holds those cores, its OpenMP
threads wait on each other (a parallel region ends when its slowest thread does, and an idle
thread spins before it sleeps), and a run can take several times longer than on one thread.
`auto` takes the cores other work leaves free, at least one, measured over a quarter second
from the kernel's per-CPU counters (/proc/stat) of the cores this process may run on: the
one-minute load average lags a minute behind (a run just ended still counts for a core) and
counts the whole host's work, not this process's cores; it is used only where /proc/stat is
missing. An explicit OMP_NUM_THREADS (what a suite sets for each of its runs) is taken as the
user's choice.
The count is recorded with the result (`environment.device.cpu_threads`): results can differ
in their last bits between thread counts.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

CpuTimes = dict[int, tuple[int, int]]  # CPU number -> (all jiffies, idle jiffies) since boot


def cpu_times(stat: str) -> CpuTimes:
    """The per-CPU lines of /proc/stat's text ("cpuN user nice system idle iowait irq softirq
    steal ...") -> {N: (total, idle)} in clock ticks, idle counting idle and iowait; guest time
    is already inside user and nice, so it is left out of the total."""
    times = {}
    for line in stat.splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            ticks = [int(f) for f in fields[:8]]
            times[int(name[3:])] = (sum(ticks), ticks[3] + ticks[4])
    return times


def busy_cores(before: CpuTimes, after: CpuTimes, cpus: Collection[int]) -> float:
    """How many of `cpus` were busy between two readings: the sum over them of the busy
    fraction 1 - idle/total of their ticks (a CPU with no ticks between them counts idle)."""
    busy = 0.0
    for cpu in cpus:
        if cpu in before and cpu in after:
            total = after[cpu][0] - before[cpu][0]
            idle = after[cpu][1] - before[cpu][1]
            busy += (total - idle) / total if total > 0 else 0.0
    return busy


def measure_busy(
    cpus: Collection[int],
    interval: float = 0.25,
    read: Callable[[], str] = lambda: Path("/proc/stat").read_text(),
    sleep: Callable[[float], None] = time.sleep,
) -> float | None:
    """Cores of `cpus` busy with other work over the next `interval` seconds (this process
    sleeps meanwhile), or None where /proc/stat cannot be read (not Linux)."""
    try:
        before = cpu_times(read())
        sleep(interval)
        return busy_cores(before, cpu_times(read()), cpus)
    except (OSError, ValueError):
        return None


def auto_threads(cores: int, load: float, default: int) -> int:
    """Threads for `auto`: the cores not busy with other work (`load` of them), rounded,
    clamped to 1..default (torch's own choice, the physical cores). On 2 cores at load 0: 2;
    at load 2: 1."""
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
    words. `default` is torch's count; `cores` (this process's) and `load` (the cores busy with
    other work) are measured if None."""
    if setting != "auto":
        return int(setting), f"trainer.threads={setting}"
    given = environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given), f"OMP_NUM_THREADS={given}"
    cpus = (
        os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    )
    cores = len(cpus) if cores is None else cores
    if load is None:
        load = measure_busy(cpus)
    if load is not None:
        return auto_threads(cores, load, default), f"auto: {load:.1f} of {cores} cores busy"
    load = os.getloadavg()[0]  # no /proc/stat: the one-minute load average, lagging
    return auto_threads(cores, load, default), f"auto: load average {load:.1f} on {cores} cores"


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
