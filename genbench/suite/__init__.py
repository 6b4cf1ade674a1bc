"""Suites: a grid of runs (models x datasets x seeds x parameter lists), executed resumably.

A suite expands to RunConfigs up front (so a bad name or key fails before anything runs), skips
runs already finished in the store, and executes the rest on a backend:

- local (backend_local): `--workers N` runs at a time, each in its own process with its share
  of the cores as threads, calling the function `genbench run` calls (genbench.run.execute).
  The processes fork from a server that imported torch and Lightning once (multiprocessing's
  forkserver), so a run does not pay the seconds of imports again. Children die with the suite
  however it ends (Ctrl-C, SIGTERM, SIGKILL, an OOM kill: see genbench/lifeline.py) and a
  restarted suite resumes interrupted runs from their checkpoints;
- ray (backend_ray): each run is a Ray task with its CPU/GPU needs, on a local or remote Ray
  cluster; the task returns the run's files and the driver writes them into the store.

A run that crashes is recorded with status "failed" and is rerun only with --retry-failed; a
diverged run is finished, like a done one.

Modules: spec (the suite file), plan (expansion, applicability), outcomes (progress, failures),
run (run_suite), backend_local, backend_ray. This package's names are re-exported here.
"""

from genbench.suite.outcomes import Progress, write_failure
from genbench.suite.plan import PlannedRun, applicability, expand
from genbench.suite.run import run_suite
from genbench.suite.spec import SuiteSpec, load_spec

__all__ = [
    "PlannedRun",
    "Progress",
    "SuiteSpec",
    "applicability",
    "expand",
    "load_spec",
    "run_suite",
    "write_failure",
]
