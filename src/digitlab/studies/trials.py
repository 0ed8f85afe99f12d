"""One trial of a sweep: a training config with its seed, and the function that runs it.

A :class:`Trial` is a fully determined training run: :func:`digitlab.training.train` with
``trial.config`` (whose ``seed`` fixes the data split, the initial weights and the sample order)
on the dataset ``trial.config.dataset`` or the folder ``trial.data``. Running it twice, in
this process, in a worker process or on a Ray node, gives the same numbers.

:func:`run_trial` is what the executors call in their workers. It never raises for a failed
training run: a run that diverges (:class:`~digitlab.errors.TrainingDiverged`) or fails in any
other way comes back as a result with ``status = "failed"`` and the error message, so that the
rest of the sweep goes on.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from digitlab.config import TrainConfig
from digitlab.errors import DigitlabError
from digitlab.formatting import format_value

#: Per-epoch numbers kept in a trial's result (see :class:`digitlab.history.History`).
HISTORY_FIELDS = (
    "epoch", "seconds", "train_loss", "train_accuracy", "validation_loss", "validation_accuracy",
    "test_loss", "test_accuracy",
)


@dataclass(frozen=True)
class DataSource:
    """A folder of IDX files to train on instead of the named dataset ``config.dataset``.

    ``name`` is the catalog name of the data in the folder (``"mnist"`` ...), or None for an
    anonymous folder (see :func:`digitlab.data.load_dataset`).
    """

    folder: str  # absolute path
    name: str | None = None


@dataclass
class Trial:
    """A training run of a study, with the labels that place it in the study's figure.

    Attributes
    ----------
    config : TrainConfig
        Everything that determines the run, the seed included.
    study : str
        The study it belongs to (``"lr"``, ``"epochs"``, ... or a grid file's name).
    parameter : str
        The quantity on the study's x axis (``"lr"``, ``"layers"``, ...).
    value : Any
        This trial's x value (a number, or a label for categorical grids).
    series : dict
        The values that pick the trial's line in the figure, e.g.
        ``{"activation": "relu", "optimizer": "adam"}``.
    data : DataSource, optional
        A folder of IDX files (``digitlab sweep --data``); None for the named dataset
        ``config.dataset``.
    """

    config: TrainConfig
    study: str
    parameter: str
    value: Any
    series: dict[str, Any] = field(default_factory=dict)
    data: DataSource | None = None

    @property
    def key(self) -> str:
        """Hash of the full config (seed included) and of the data folder, if one is given.

        Equal keys mean identical runs, so a config shared by two studies is trained once, and
        the key names the trial's file in the results store.
        """
        if self.data is None:
            return self.config.key()
        text = json.dumps([self.config.to_key_dict(), self.data.folder, self.data.name],
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def series_label(self) -> str:
        """``"relu / adam"``, ``"tanh / weight_decay=0.001"``: the series as legends show it.

        Names (activations, optimizers) speak for themselves; numbers get their field's name.
        """
        parts = [value if isinstance(value, str) else f"{key}={format_value(value)}"
                 for key, value in self.series.items()]
        return " / ".join(parts) or "all"

    def cost(self) -> float:
        """A rough relative run time, to start long trials first and weigh the time left.

        Per sample and epoch a step costs about the number of weights (almost twice that
        with Adam's extra state) plus a fixed share (Python per-batch work, the evaluation
        after each epoch), and each trial starts by loading data: a fit of the measured times
        of the quick sweep (R² = 0.995).
        """
        sizes = self.config.sizes
        weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        if self.config.optimizer == "adam":
            weights *= 1.9
        samples = self.config.max_train_samples or 60_000
        return self.config.epochs * samples * (weights + 20_000) + 5e8




def run_trial(trial: Trial) -> dict[str, Any]:
    """Train ``trial`` with one BLAS thread and return its result (never raises for a failure).

    Returns
    -------
    dict
        ``key``; ``status`` (``"ok"`` or ``"failed"``); ``error`` (``"TrainingDiverged: loss
        became inf at epoch 2, ..."`` or None); ``retryable`` (True when the failure may not
        recur, e.g. an unexpected exception: a resumed sweep runs such trials again);
        ``train_accuracy`` (running accuracy over the last epoch, as the training progress bar
        shows it) and ``test_accuracy`` (on the held-out test split after training), with
        ``train_loss`` and ``test_loss``; ``epochs_run``; ``history`` (one dict per finished
        epoch with the keys :data:`HISTORY_FIELDS`); ``seconds`` (wall time of the trial).
    """
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    epochs: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "key": trial.key, "status": "ok", "error": None, "retryable": False,
        "train_accuracy": None, "test_accuracy": None, "train_loss": None, "test_loss": None,
    }
    try:
        # One BLAS thread per trial: the executors run one trial per core.
        with threadpool_limits(limits=1):
            result.update(_train(trial, epochs))
    except DigitlabError as error:  # diverged, or a config/data problem that will recur
        result.update(status="failed", error=f"{type(error).__name__}: {error}")
    except Exception as error:  # one broken trial must not stop the sweep
        result.update(status="failed", error=f"{type(error).__name__}: {error}", retryable=True)
    result["epochs_run"] = len(epochs)
    result["history"] = [{k: record.get(k) for k in HISTORY_FIELDS} for record in epochs]
    result["seconds"] = time.perf_counter() - start
    return result


def _train(trial: Trial, epochs: list[dict[str, Any]]) -> dict[str, Any]:
    from digitlab.evaluation import evaluate
    from digitlab.training import train

    config = trial.config
    dataset = load_trial_dataset(config, trial.data)
    trained = train(config, dataset, progress=False, on_epoch_end=epochs.append)
    if trained.status == "interrupted":
        return {"status": "failed", "error": "interrupted", "retryable": True}
    final = dict(trained.history.final)
    if trained.status == "early_stopping":  # the best weights were restored: measure those
        test = evaluate(trained.network, dataset.test.images, dataset.test.labels, config.loss)
        final["test_loss"], final["test_accuracy"] = test.mean_loss, test.accuracy
    return {key: final.get(key)
            for key in ("train_accuracy", "test_accuracy", "train_loss", "test_loss")}


# A worker runs many trials; the splits depend only on these fields, so keep the last few.
_DATASETS: dict[tuple, Any] = {}
_DATASETS_KEPT = 2


def load_trial_dataset(config: TrainConfig, data: DataSource | None = None, *,
                       keep: bool = True) -> Any:
    """The dataset a config trains on, split with its seed (kept for the worker's next trials).

    ``keep=False`` loads it without keeping it (the main process only checks that it loads).
    """
    from digitlab.data import load_run_dataset

    name, folder = (config.dataset, None) if data is None else (data.name, data.folder)
    cache_key = (name, folder, config.data_seed, config.test_fraction,
                 config.validation_fraction)
    if cache_key in _DATASETS:
        return _DATASETS[cache_key]
    dataset = load_run_dataset(config, folder, name=name)
    if keep:
        while len(_DATASETS) >= _DATASETS_KEPT:
            _DATASETS.pop(next(iter(_DATASETS)))
        _DATASETS[cache_key] = dataset
    return dataset
