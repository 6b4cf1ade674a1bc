"""One typed record of a run's outcome, and its form in result.json.

Every result.json (a trained run, a classifier, a reference row, a failure) is a RunResult
written by `to_json` and read back by `from_json`; the store (genbench.results.store) is the one
place that writes and reads the files. Fields that a kind of run does not have (a failure has no
versions, a reference no data spec) are None and absent from the file, as they always were.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

FINISHED = ("done", "diverged")  # a run with one of these statuses is not trained again
STATUSES = ("done", "diverged", "failed")
KINDS = ("generative", "classifier", "reference")


@dataclass
class RunResult:
    run_id: str
    model: str
    dataset: str
    seed: int
    status: str  # one of STATUSES
    kind: str | None = None  # one of KINDS; None in a failure's record
    error: str | None = None  # why a failed run failed
    exit_code: int | None = None  # a failed run's process exit code, where it had one
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # RunConfig.to_dict(): reproduces it
    data_spec: dict[str, Any] | None = None  # shape, num_levels, num_classes
    versions: dict[str, Any] | None = None  # genbench.environment.versions()
    device: dict[str, Any] | None = None  # genbench.environment.describe_device()
    timings: dict[str, float] | None = None
    resumed: bool | None = None  # training resumed from a checkpoint
    extra: dict[str, Any] = field(default_factory=dict)  # keys of other writers, kept as read

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_json(self) -> dict[str, Any]:
        """The result.json object: the fields in order, those that are None left out."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        extra = fields.pop("extra")
        keep = ("metrics", "config")  # always written, even empty
        return {k: v for k, v in fields.items() if v is not None or k in keep} | extra

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> RunResult:
        """A parsed result.json (checked by the store first) as a record; unknown keys kept."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in record.items() if k in names}
        extra = {k: v for k, v in record.items() if k not in names}
        known.setdefault("config", {})
        return cls(**known, extra=extra)
