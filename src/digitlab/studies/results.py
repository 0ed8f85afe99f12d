"""What the studies hand on: :class:`StudiesSummary` (the studies, their points, the trial
counts and figures), the typed form of what the report keeps of a :class:`StudiesResult`.

:class:`StudySummary` and :class:`StudyPoint` are the typed form of one study of
``summary.json`` (see :func:`digitlab.studies.summary.summarize`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digitlab.records import Record


@dataclass
class StudyPoint(Record):
    """One series at one value of the study's parameter: its trials differ only in the seed."""

    series: str  # e.g. "relu / adam"
    series_values: dict[str, Any]  # e.g. {"activation": "relu", "optimizer": "adam"}
    value: Any  # the parameter's value (a number, or a list for hidden sizes)
    n: int  # successful seeds
    failed: int
    seeds: list[int]  # (n,)
    train_accuracy_mean: float | None  # None when every seed failed
    train_accuracy_std: float | None  # sample std (ddof = 1); None for fewer than two seeds
    test_accuracy_mean: float | None
    test_accuracy_std: float | None
    seconds_mean: float | None
    errors: list[str]  # distinct messages of its failures


@dataclass
class StudySummary(Record):
    """One study: one parameter varied over a few values for a few series."""

    name: str
    title: str
    parameter: str  # the config field varied (or "epochs" for a per-epoch study)
    xlabel: str
    log_x: bool
    per_epoch: bool  # points are the epochs of one long run per seed
    series_keys: list[str]  # config fields that make a series
    fixed: dict[str, Any]  # config fields shared by all its trials
    trials: int
    failed: int
    points: list[StudyPoint]

    def best_points(self) -> list[tuple[str, StudyPoint]]:
        """For each series, its point with the highest mean test accuracy; best series first."""
        best: dict[str, StudyPoint] = {}
        for point in self.points:
            mean = point.test_accuracy_mean
            if mean is None:
                continue
            if point.series not in best or mean > best[point.series].test_accuracy_mean:
                best[point.series] = point
        return sorted(best.items(), key=lambda item: -item[1].test_accuracy_mean)


@dataclass
class StudiesSummary(Record):
    """The studies of one run of :func:`~digitlab.studies.runner.run_studies`, for the report."""

    studies: dict[str, StudySummary]  # study name -> summary
    trials: int  # rows (trials of each study)
    failed: int  # distinct trials that failed
    seconds: float  # wall time of the run
    figures: dict[str, str]  # study name -> figure path

    @classmethod
    def from_result(cls, result: Any, path: Callable[[Path], str] = str) -> StudiesSummary:
        """From a :class:`~digitlab.studies.runner.StudiesResult`; ``path`` writes a figure's
        path (e.g. relative to a report)."""
        return cls.from_dict({
            "studies": result.studies, "trials": len(result.rows), "failed": result.failed,
            "seconds": result.seconds,
            "figures": {name: path(p) for name, p in result.figures.items()},
        })
