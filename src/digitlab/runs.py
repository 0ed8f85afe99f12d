"""Run tracking: the training runs under some folders, side by side, and their curves overlaid.

Every run folder already says what it is (:mod:`digitlab.runfiles`): ``config.json`` (the
configuration), ``history.json`` (per-epoch E and accuracy, seconds) and, once training
ended with a test split, ``evaluation.json``. This module only reads them:

- :func:`find_run_folders` — the run folders below some folders (a folder holding
  ``config.json`` and ``history.json``; nothing below a run folder is searched);
- :func:`list_runs` — one :class:`RunSummary` per run (its config, epochs, accuracy, time),
  sorted by any column or config field; :func:`differing_fields` — the config fields whose
  values are not the same in every run (what tells the runs apart);
- :func:`compare_runs` — E and accuracy per epoch of several runs in one matplotlib Figure,
  each run named by its differing fields.

Listing reads JSON alone and imports neither matplotlib nor Numba (``digitlab runs`` over 20
runs: ``benchmarks/bench_runs.py``); :func:`compare_runs` imports matplotlib when called.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitlab.errors import ConfigError, DataError, Message
from digitlab.fileio import read_json
from digitlab.formatting import format_value
from digitlab.history import History
from digitlab.i18n import N_
from digitlab.records import Record
from digitlab.runfiles import CONFIG_FILE, EVALUATION_FILE, HISTORY_FILE, RUN_MARKERS

if TYPE_CHECKING:  # matplotlib loads when a comparison is drawn, not for the table
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: folders never searched for runs
SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "mlruns", "tensorboard"})
#: run folders are found at most this many levels below each folder searched
MAX_DEPTH = 6
#: history.json holds a trace point (about 120 bytes) per ``trace_every`` samples: 1,000 epochs
#: of 60,000 digits traced every 1,000 are 7 MB
MAX_HISTORY_BYTES = 16 << 20
#: the table's own columns, which ``sort`` takes besides config fields
COLUMNS = ("path", "accuracy", "time", "epochs", "status")


@dataclass
class RunSummary(Record):
    """One run as the table shows it (also its ``--json`` form)."""

    path: str
    #: the run's ``config.json``: every field of :class:`~digitlab.config.TrainConfig`
    config: dict[str, Any] = field(default_factory=dict)
    #: epochs completed, and the epochs the config asks for
    epochs: int = 0
    planned_epochs: int | None = None
    #: the share of digits read correctly: the final test evaluation (``evaluation.json``),
    #: else the last epoch's test or validation accuracy, with the split it was measured on
    accuracy: float | None = None
    accuracy_split: str | None = None
    #: seconds of training: the epochs' own times, summed
    seconds: float = 0.0
    #: "completed", "early_stopping" (``evaluation.json``), "finished" (all epochs, no test
    #: split) or "stopped" (interrupted, or still training)
    status: str = "stopped"

    @property
    def name(self) -> str:
        return Path(self.path).name

    def value(self, column: str) -> Any:
        """A column of the table (:data:`COLUMNS`) or a config field; None where absent."""
        if column == "time":
            return self.seconds
        if column in COLUMNS:
            return getattr(self, column)
        return self.config.get(column)


def find_run_folders(folders: Iterable[str | os.PathLike] = ("runs",), *,
                     max_depth: int = MAX_DEPTH) -> list[Path]:
    """The run folders at or below each of ``folders``, in sorted order, each once.

    A run folder holds ``config.json`` and ``history.json``; what lies below one is not
    searched, nor hidden folders, :data:`SKIPPED_FOLDERS` or links. A folder that does not
    exist is a :class:`DataError` naming it.
    """
    found: dict[Path, None] = {}
    for root in map(Path, folders):
        if not root.is_dir():
            raise DataError(Message("{folder}: not a folder; expected a folder holding run "
                                    "folders", folder=root) if root.exists() else
                            Message("{folder}: no such folder; expected a folder holding run "
                                    "folders", folder=root))
        frontier = [(root, 0)]
        while frontier:
            folder, depth = frontier.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            names = {entry.name for entry in entries}
            if all(marker in names for marker in RUN_MARKERS):
                found.setdefault(folder, None)
                continue
            if depth < max_depth:
                frontier.extend((Path(entry.path), depth + 1) for entry in entries
                                if entry.is_dir(follow_symlinks=False)
                                and not entry.name.startswith(".")
                                and entry.name not in SKIPPED_FOLDERS)
    return sorted(found)


def read_run(folder: str | os.PathLike) -> RunSummary:
    """The :class:`RunSummary` of one run folder (a :class:`DataError` naming the file that
    cannot be read)."""
    folder = Path(folder)
    config = read_json(folder / CONFIG_FILE)
    if not isinstance(config, dict):
        raise DataError(Message("{path}: expected a JSON object of config fields",
                                path=folder / CONFIG_FILE))
    epochs = read_history(folder).epochs
    evaluation = _read_evaluation(folder)
    planned = config.get("epochs")
    planned = planned if isinstance(planned, int) and not isinstance(planned, bool) else None
    accuracy, split = _final_accuracy(evaluation, epochs)
    if evaluation is not None:
        status = str(evaluation.get("status", "completed"))
    elif epochs and (planned is None or len(epochs) >= planned
                     or epochs[-1].get("restored_best_epoch")):
        status = "finished"
    else:
        status = "stopped"
    seconds = sum(_number(e.get("seconds")) or 0.0 for e in epochs)
    return RunSummary(str(folder), config, len(epochs), planned, accuracy, split, seconds,
                      status)


def read_history(folder: str | os.PathLike) -> History:
    """A run folder's :class:`History` (``history.json``)."""
    path = Path(folder) / HISTORY_FILE
    data = read_json(path, max_bytes=MAX_HISTORY_BYTES)
    if not isinstance(data, dict) or not isinstance(data.get("epochs", []), list) \
            or not all(isinstance(e, dict) for e in data.get("epochs", [])):
        raise DataError(Message("{path}: expected a JSON object with a list of epoch records",
                                path=path))
    return History.from_dict(data)


def list_runs(folders: Iterable[str | os.PathLike] = ("runs",), *,
              sort: str | None = None) -> list[RunSummary]:
    """The runs at or below ``folders`` (each a run folder or a folder of runs), one
    :class:`RunSummary` each.

    ``sort`` is a column (``path``, ``accuracy``, ``time``, ``epochs``, ``status``) or a config
    field (``lr``, ``hidden``...), ascending, or descending with a leading ``-``
    (``"-accuracy"``: the best first); runs without that value come last. A run folder that
    cannot be read is left out with a warning (logger ``digitlab.runs``) naming it and why.
    """
    runs = []
    for folder in find_run_folders(folders):
        try:
            runs.append(read_run(folder))
        except DataError as error:
            log.warning(N_("skipped %s"), error)
    return sort_runs(runs, sort) if sort else runs


def sort_runs(runs: Sequence[RunSummary], sort: str) -> list[RunSummary]:
    """``runs`` sorted by ``sort`` (see :func:`list_runs`)."""
    descending, column = sort.startswith("-"), sort.lstrip("-")
    known = set(COLUMNS).union(*(run.config for run in runs))
    if column not in known:
        fields = ", ".join(sorted(known - set(COLUMNS)))
        raise ConfigError(f"cannot sort by {column!r}: expected {', '.join(COLUMNS)} or a "
                          f"config field ({fields or 'none: no runs found'})")
    present = [run for run in runs if run.value(column) is not None]
    missing = [run for run in runs if run.value(column) is None]
    present.sort(key=lambda run: _sort_key(run.value(column)), reverse=descending)
    return present + missing


def differing_fields(runs: Sequence[RunSummary]) -> list[str]:
    """The config fields whose values are not all equal across ``runs`` (a field missing from
    an older run's config counts as a value of its own), in the configs' order."""
    names: dict[str, None] = {}
    for run in runs:
        names.update(dict.fromkeys(run.config))
    return [name for name in names
            if len({json.dumps(run.config.get(name, _MISSING), sort_keys=True)
                    for run in runs}) > 1]


def run_label(run: RunSummary, fields: Sequence[str]) -> str:
    """A run named by its values of ``fields`` (``lr=0.01, hidden=256,128``), or by its
    folder's name when no field tells it apart."""
    if not fields:
        return run.name
    return ", ".join(f"{name}={format_value(run.config.get(name, 'n/a'))}" for name in fields)


def compare_runs(runs: Iterable[str | os.PathLike | RunSummary], *,
                 title: str | None = None) -> Figure:
    """E and accuracy per epoch of several runs overlaid, as a matplotlib Figure.

    ``runs`` are run folders (or folders of runs, all the runs below are taken) or
    :class:`RunSummary` records. One colour per run, named in the legend by the config
    fields that differ between the runs (:func:`differing_fields`); one line style per split:
    train solid, validation dashed, test dotted (splits a run lacks are not drawn).
    """
    chosen: list[RunSummary] = []
    for run in runs:
        if isinstance(run, RunSummary):
            chosen.append(run)
            continue
        folders = find_run_folders([run])
        if not folders:
            raise DataError(Message("{run}: no run folder there (a folder holding {config} and "
                                    "{history})", run=run, config=CONFIG_FILE,
                                    history=HISTORY_FILE))
        chosen.extend(read_run(folder) for folder in folders)
    if not chosen:
        raise DataError(Message("no runs to compare: give run folders"))
    from digitlab.plots.runs import runs_comparison_figure

    fields = differing_fields(chosen)
    # the numbers of each epoch record only: a hand-edited file draws no text as a value
    histories = [[{k: v for k, v in record.items() if _number(v) is not None}
                  for record in read_history(run.path).epochs] for run in chosen]
    labels = [run_label(run, fields) for run in chosen]
    return runs_comparison_figure(histories, labels, title=title)


# ------------------------------------------------------------------ helpers
_MISSING = "<missing>"


def _read_evaluation(folder: Path) -> dict[str, Any] | None:
    path = folder / EVALUATION_FILE
    if not path.is_file():
        return None
    evaluation = read_json(path)
    if not isinstance(evaluation, dict):
        raise DataError(f"{path}: expected a JSON object")
    return evaluation


def _final_accuracy(evaluation: dict[str, Any] | None,
                    epochs: list[dict[str, Any]]) -> tuple[float | None, str | None]:
    """(accuracy, split): the test evaluation's, else the last epoch's test, else validation."""
    if evaluation is not None and _number(evaluation.get("accuracy")) is not None:
        return _number(evaluation["accuracy"]), str(evaluation.get("split", "test"))
    last = epochs[-1] if epochs else {}
    for split in ("test", "validation"):
        if _number(last.get(f"{split}_accuracy")) is not None:
            return _number(last[f"{split}_accuracy"]), split
    return None, None


def _number(value: Any) -> float | None:
    """A JSON number as a float; None for anything else (true, text, null)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers by value, then everything else by its JSON text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, json.dumps(value, sort_keys=True))
