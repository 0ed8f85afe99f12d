"""``run_studies``: expand the studies, run the trials not yet stored, write tables and figures.

Steps:

1. Expand the built-in studies and the grid file into trials; every config is validated here,
   so a bad grid fails before any trial runs. Check that the dataset loads.
2. Drop trials already in the store ``DIR/trials`` (a resumed sweep) and duplicates (a config
   that two studies share is trained once).
3. Run the rest on the executor, longest first, storing each result the moment it finishes.
4. Write ``DIR/trials.csv`` and ``DIR/trials.json`` (one row per trial), ``DIR/summary.json``
   (mean ± std over seeds per study point) and one figure per study, ``DIR/<study>.png``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitlab.errors import ConfigError
from digitlab.fileio import write_json, write_text
from digitlab.runlock import claim_folder
from digitlab.studies.definitions import (
    BUILTIN_STUDIES,
    FULL,
    QUICK,
    Scale,
    StudyPlan,
    builtin_study,
    load_grid,
    study_base,
)
from digitlab.studies.executors import EXECUTORS, default_workers, import_ray, run_local, run_ray
from digitlab.studies.store import TrialStore
from digitlab.studies.summary import rows_to_csv, summarize, trial_rows
from digitlab.studies.trials import DataSource, Trial, load_trial_dataset

SUMMARY_VERSION = 1


@dataclass
class StudiesResult:
    """What :func:`run_studies` returns.

    ``rows``: one dict per trial of each study (see :func:`digitlab.studies.summary.trial_rows`;
    a config two studies share is one trial with a row in each); ``studies``: the per-study
    summaries written to summary.json; ``figures``: study name -> PNG path; ``ran``: distinct
    trials run by this call; ``skipped``: distinct trials found in the store; ``failed``:
    distinct trials that failed; ``seconds``: wall time of this call.
    """

    out_dir: Path
    rows: list[dict[str, Any]]
    studies: dict[str, dict[str, Any]]
    figures: dict[str, Path] = field(default_factory=dict)
    ran: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0


def plan_studies(
    studies: Sequence[str] = (), *, grid_file: str | os.PathLike | None = None, seeds: int = 3,
    full: bool = False, dataset: str | None = None, data_dir: str | os.PathLike | None = None,
    scale: Scale | None = None,
) -> list[StudyPlan]:
    """The studies of a sweep, expanded into trials and validated (nothing runs).

    No study names and no grid file means all :data:`BUILTIN_STUDIES`. ``scale`` replaces the
    quick or full sizes of the built-in studies (see :class:`~digitlab.studies.definitions.Scale`).
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds must be a positive integer, got {seeds!r}")
    names = list(dict.fromkeys(studies)) or ([] if grid_file else list(BUILTIN_STUDIES))
    scale = scale or (FULL if full else QUICK)
    data = None
    if data_dir is not None:  # the config names the data: the catalog name or the folder's
        data = DataSource(str(Path(data_dir).resolve()), dataset)
        dataset = dataset or Path(data.folder).name
    base = study_base(scale, dataset)
    plans = [builtin_study(name, base, scale, seeds=seeds, data=data) for name in names]
    if grid_file is not None:
        grid = load_grid(grid_file, base, seeds=seeds, data=data, dataset=dataset)
        if grid.name in names:
            raise ConfigError(f"{grid_file}: name {grid.name!r} is taken by a built-in study")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", grid.name):
            raise ConfigError(f"{grid_file}: name {grid.name!r} must be letters, digits, _ . -")
        plans.append(grid)
    return plans


def run_studies(
    studies: Sequence[str] = (),
    out_dir: str | os.PathLike = "sweep",
    *,
    grid_file: str | os.PathLike | None = None,
    executor: str = "local",
    address: str | None = None,
    seeds: int = 3,
    full: bool = False,
    workers: int | None = None,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    scale: Scale | None = None,
) -> StudiesResult:
    """Run hyperparameter studies in parallel and write their tables and figures to ``out_dir``.

    Parameters
    ----------
    studies : sequence of str
        Names among :data:`~digitlab.studies.definitions.BUILTIN_STUDIES` (``epochs``, ``lr``,
        ``layers``, ``neurons``); empty means all of them, unless ``grid_file`` is given.
    out_dir : str or os.PathLike
        Receives ``trials/<key>.json`` (one per finished trial), ``trials.csv``,
        ``trials.json``, ``summary.json`` and ``<study>.png``. Running again with the same
        folder skips the trials already stored there.
    grid_file : str or os.PathLike, optional
        A TOML grid (see :func:`~digitlab.studies.definitions.load_grid`), run as one more study.
    executor : {"local", "ray"}
        ``local``: a process per core on this machine. ``ray``: Ray tasks, on a local Ray
        runtime or, with ``address``, on an existing cluster. Both give the same numbers.
    address : str, optional
        Address of a Ray cluster (``ray start --head`` prints it); ``ray`` executor only.
    seeds : int
        Trials per study point, with seeds 0..seeds−1 (counted from ``[base]`` seed in grids).
    full : bool
        The lab report's scale instead of the quick default grid.
    workers : int, optional
        Parallel trials (default: the CPUs available; with ``address`` the cluster decides).
    dataset, data_dir : optional
        A dataset name or a folder of IDX files (default: the embedded ``mnist-sample``).
    progress : bool
        Show a progress bar of trials done / total with the time left.
    scale : Scale, optional
        Custom sizes for the built-in studies (grid points, epochs, width, training images);
        overrides ``full``.

    The local executor starts worker processes with "spawn": a script that calls this function
    must do so under ``if __name__ == "__main__":``.

    Raises
    ------
    ConfigError
        For an unknown study or executor, a bad grid file or option, before anything runs.
    """
    start = time.perf_counter()
    if executor not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}; got {executor!r}")
    if address and executor != "ray":
        raise ConfigError("--address needs --executor ray")
    workers = default_workers() if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    plans = plan_studies(studies, grid_file=grid_file, seeds=seeds, full=full, dataset=dataset,
                         data_dir=data_dir, scale=scale)
    if executor == "ray":
        import_ray()  # a missing Ray is reported now, not after the data are checked

    out_dir = Path(out_dir)
    # checked, locked and cleared of a killed run's temporaries before any trial runs
    with claim_folder(out_dir, "sweep folder", recursive=True):
        trials = list({trial.key: trial for plan in plans for trial in plan.trials}.values())
        first = trials[0]
        load_trial_dataset(first.config, first.data, keep=False)  # missing data fail here, once

        store = TrialStore(out_dir)
        records = {t.key: r for t in trials if (r := store.finished(t.key)) is not None}
        todo = sorted((t for t in trials if t.key not in records), key=Trial.cost, reverse=True)
        bar = _Progress(trials, records, progress)

        def on_result(trial: Trial, result: dict[str, Any]) -> None:
            records[trial.key] = store.save(trial, result)  # stored the moment it finishes
            bar.finished(trial, result["status"] == "ok")

        try:
            if todo and executor == "local":
                run_local(todo, on_result, workers=min(workers, len(todo)))
            elif todo:
                run_ray(todo, on_result, workers=workers, address=address)
        finally:
            bar.close()

        rows = trial_rows(plans, records)
        result = StudiesResult(out_dir, rows, summarize(plans, rows), ran=len(todo),
                               skipped=len(trials) - len(todo),
                               failed=sum(records[t.key]["status"] != "ok" for t in trials))
        scale_name = "custom" if scale else "full" if full else "quick"
        _write_outputs(result, seeds=seeds, scale=scale_name, executor=executor,
                       dataset=first.config.dataset, data_dir=first.data and first.data.folder)
        result.seconds = time.perf_counter() - start
        return result


def _write_outputs(result: StudiesResult, **options: Any) -> None:
    from digitlab.plots.studies import plot_study

    out_dir = result.out_dir
    write_text(out_dir / "trials.csv", rows_to_csv(result.rows))
    write_json(out_dir / "trials.json", {"version": SUMMARY_VERSION, "trials": result.rows})
    for name, study in result.studies.items():
        result.figures[name] = plot_study(study, out_dir / f"{name}.png", seeds=options["seeds"])
    write_json(out_dir / "summary.json", {
        "version": SUMMARY_VERSION,
        **options,
        "trials": result.ran + result.skipped,
        "failed": result.failed,
        "figures": {name: path.name for name, path in result.figures.items()},
        "studies": result.studies,
    })


class _Progress:
    """Trials done / total, and the time left weighed by each trial's expected run time.

    Long trials run first; counting trials alone would make the early estimate far too long.
    """

    def __init__(self, trials: Sequence[Trial], done: dict[str, Any], enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.total, self.done, self.failed = len(trials), len(done), 0
        scale = sum(t.cost() for t in trials) / max(len(trials), 1)  # bar in "average trials"
        self.weight = {t.key: t.cost() / scale for t in trials}
        self.bar = tqdm(
            total=sum(self.weight.values()), initial=sum(self.weight[k] for k in done),
            desc=f"sweep {self.done}/{self.total} trials", disable=not enabled,
            dynamic_ncols=True, smoothing=0.1,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
        )

    def finished(self, trial: Trial, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        self._show(refresh=False)
        left = self.bar.total - self.bar.n  # no overshoot from rounding
        self.bar.update(left if self.done == self.total else min(self.weight[trial.key], left))

    def _show(self, refresh: bool = True) -> None:
        failed = f", {self.failed} failed" if self.failed else ""
        self.bar.set_description_str(f"sweep {self.done}/{self.total} trials{failed}",
                                     refresh=refresh)

    def close(self) -> None:
        self.bar.close()
