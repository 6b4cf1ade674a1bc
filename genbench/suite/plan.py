"""A suite's runs: its spec expanded to validated RunConfigs, and which pairs do not apply."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from genbench.config import RunConfig, parse_override, resolve
from genbench.registry import is_classifier, lookup
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
    each dataset is loaded once, with the suite's `data.*` overrides, to read its spec."""
    from genbench.run.build import load_dataset

    specs = {}
    for dataset in datasets:
        lookup("dataset", dataset)
        specs[dataset] = load_dataset(resolve("logreg", dataset, 0, data_overrides)).spec
    reasons = {}
    for model, dataset in itertools.product(models, datasets):
        lookup("model", model)
        spec = specs[dataset]
        if is_classifier(model) and spec.num_classes is None:
            reasons[model, dataset] = "a classifier needs labels"
        elif not is_classifier(model) and spec.num_levels is None:
            reasons[model, dataset] = "a generative model needs discrete levels"
    return reasons
