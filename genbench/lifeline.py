"""Tie a process's life to its parent's, so that however a suite ends its runs end too.

A suite's runs fork from multiprocessing's forkserver, a child of the suite. Each run holds the
forkserver's "alive" pipe open (multiprocessing passes it to every child), so the forkserver
never sees its suite go and outlives a SIGTERM, SIGKILL or OOM kill, and so do the runs. The
cure is Linux's parent-death signal at both levels: the forkserver is killed when the suite
dies, and each run gets SIGTERM (to save its state and stop) when the forkserver dies.

The forkserver offers no hook but its preload list, so importing this module with
GENBENCH_LIFELINE_PARENT set (the suite sets it while starting its forkserver, and puts this
module first in the preload list) ties the importing process to that parent.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PARENT_VARIABLE = "GENBENCH_LIFELINE_PARENT"
PR_SET_PDEATHSIG = 1

# the pid of the forkserver this module guards (set in it at import), which the processes it
# forks inherit: each run checks that this is still its parent after asking for the signal
server_pid: int | None = None


def die_with_parent(signum: int, parent: int | None = None) -> None:
    """Have the kernel send `signum` to this process when its parent exits (Linux only;
    elsewhere nothing). If `parent` is given and is no longer this process's parent, it died
    before the signal was set up: exit now rather than live on as an orphan."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signum)
    if parent is not None and os.getppid() != parent:
        os._exit(128 + signum)


if os.environ.get(PARENT_VARIABLE):  # imported first by a suite's forkserver
    # SIGKILL: the forkserver holds no state worth saving; its runs get SIGTERM in turn
    die_with_parent(signal.SIGKILL, int(os.environ[PARENT_VARIABLE]))
    server_pid = os.getpid()
