"""A suite's runs: its spec expanded to validated RunConfigs, and which pairs do not apply."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from genbench.config import RunConfig, parse_override, resolve, resolve_data
from genbench.registry import applies, describe
from genbench.suite.spec import SuiteSpec


@dataclass
class PlannedRun:
    cfg: RunConfig
    overrides: list[str]  # what `genbench run` needs beyond model, dataset and seed

    @property
    def command(self) -> list[str]:
        """The `genbench run` arguments that reproduce this run."""
        args = ["run", "--model", self.cfg.model_name, "--dataset", self.cfg.dataset_name]
        args += ["--seed", str(self.cfg.seed)]
        for override in self.overrides:
            args += ["--set", override]
        return args


def expand(spec: SuiteSpec, extra_overrides: list[str] = ()) -> tuple[list[PlannedRun], list[str]]:
    """Every run of the suite, validated, and a note for each combination that does not apply
    (a classifier on unlabelled data, a generative model on continuous features).

    Every run's config (seed included) is resolved, and so checked, before any dataset is
    loaded or anything runs: a bad value fails the suite at once, not run by run."""
    for key in spec.grid:
        parse_override(f"{key}=0")  # the grid's keys have the section.key form
    names = list(spec.grid)
    combos = list(itertools.product(*(spec.grid[k] for k in names))) or [()]
    plans = []
    for model, dataset in itertools.product(spec.models, spec.datasets):
        for seed, combo in itertools.product(spec.seeds, combos):
            # JSON is YAML: the values read back as they were written
            grid = [f"{k}={json.dumps(v)}" for k, v in zip(names, combo, strict=True)]
            overrides = [*spec.set, *spec.per_model.get(model, []), *grid, *extra_overrides]
            plans.append(PlannedRun(resolve(model, dataset, seed, overrides), overrides))
    data_overrides = [o for o in [*spec.set, *extra_overrides] if o.startswith("data.")]
    applicable = applicability(spec.models, spec.datasets, data_overrides)
    skipped = [f"{model} on {dataset}: {reason}" for (model, dataset), reason in applicable.items()]
    plans = [p for p in plans if (p.cfg.model_name, p.cfg.dataset_name) not in applicable]
    return plans, skipped


def applicability(
    models: list[str], datasets: list[str], data_overrides: list[str] = ()
) -> dict[tuple[str, str], str]:
    """(model, dataset) -> why the model does not apply there, for the pairs that do not;
    each dataset describes itself (nothing is loaded), with the suite's `data.*` overrides."""
    specs = {d: describe(d, resolve_data(d, data_overrides)) for d in datasets}
    pairs = itertools.product(models, datasets)
    reasons = {(m, d): applies(m, specs[d]) for m, d in pairs}
    return {pair: reason for pair, reason in reasons.items() if reason is not None}
