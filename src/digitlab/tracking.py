"""Logging a training run to TensorBoard event files or to MLflow, as training callbacks.

Each logger is a :class:`~digitlab.training.Callbacks`, so it goes wherever callbacks go::

    dl.train(preset="report", out="runs/r", log_to=["tensorboard", "mlflow"])
    dl.train(preset="report", callbacks=dl.TensorBoardLogger("tb/r"))
    digitlab train --preset report --out runs/r --log-to tensorboard,mlflow

What is logged, with the names both tools show:

- per epoch (step = the epoch, 1-based): every number of the epoch's record
  (:data:`digitlab.history.EPOCH_COLUMNS`: ``train_loss``, ``train_accuracy``,
  ``validation_*``, ``test_*``, ``lr``, ``seconds``), under ``epoch/`` in TensorBoard;
- while training (step = training samples seen): the running E and accuracy of the trace,
  ``running/loss`` and ``running/accuracy`` (MLflow: ``running_loss``, ``running_accuracy``);
- at the start, the config (TensorBoard: a text table ``config``; MLflow: one parameter per
  field); at the end the final test evaluation (``final/test_accuracy``, ``final/test_loss``;
  MLflow ``final_test_*``) and, in MLflow, the run's status (FINISHED, KILLED when
  interrupted, FAILED).

The libraries are optional (``pip install 'digitlab[tracking]'``: tensorboardX and
mlflow-skinny) and imported only by a logger that is used: importing mlflow takes about 2 s.
:func:`loggers_for` refuses a missing one in one line naming the extra. By default a run's
logs stay inside its run folder: ``RUN/tensorboard/`` (``tensorboard --logdir RUN/tensorboard``)
and ``RUN/mlruns/``, an MLflow file store (``mlflow ui --backend-store-uri RUN/mlruns``; MLflow
3 keeps its file store only on request, so digitlab sets ``MLFLOW_ALLOW_FILE_STORE=true``
unless it is set); ``mlflow_uri`` (``--mlflow-uri``) names any other tracking URI.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from digitlab.config import TrainConfig
from digitlab.errors import ConfigError
from digitlab.formatting import format_value
from digitlab.training import Callbacks, TrainResult

#: tracker name -> (module it needs, the package that provides it)
TRACKERS = {"tensorboard": ("tensorboardX", "tensorboardX"),
            "mlflow": ("mlflow", "mlflow-skinny")}
EXTRA = "tracking"
#: where the logs go inside a run folder by default
TENSORBOARD_FOLDER, MLFLOW_FOLDER = "tensorboard", "mlruns"
DEFAULT_EXPERIMENT = "digitlab"


def parse_trackers(values: str | Iterable[str] | None) -> list[str]:
    """``"tensorboard,mlflow"``, ``["tensorboard", "mlflow"]`` (or both mixed) -> the names,
    each once, in order; an unknown name is a one-line :class:`ConfigError`."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    names: list[str] = []
    for item in items:
        for name in str(item).split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in TRACKERS:
                raise ConfigError(f"--log-to: unknown tracker {name!r}; expected "
                                  f"{' or '.join(TRACKERS)} (or both, comma-separated)")
            if name not in names:
                names.append(name)
    return names


def require(tracker: str) -> None:
    """Raise a one-line :class:`ConfigError` naming the extra when ``tracker``'s library is
    not installed (checked without importing it)."""
    module, package = TRACKERS[tracker]
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"--log-to {tracker} needs {package}, which is not installed: "
                          f"pip install 'digitlab[{EXTRA}]'")


def loggers_for(log_to: str | Iterable[str] | None, run_dir: str | os.PathLike | None, *,
                mlflow_uri: str | None = None,
                experiment: str = DEFAULT_EXPERIMENT) -> list[Callbacks]:
    """The loggers ``log_to`` names (see :func:`parse_trackers`) for the run in ``run_dir``:
    :class:`TensorBoardLogger` into ``run_dir/tensorboard``, :class:`MlflowLogger` into
    ``mlflow_uri`` or else ``run_dir/mlruns``. Refused in one line, before any training, when
    a library is missing or a log would have no folder."""
    names = parse_trackers(log_to)
    for name in names:
        require(name)
    loggers: list[Callbacks] = []
    for name in names:
        if name == "mlflow" and mlflow_uri is not None:
            loggers.append(MlflowLogger(mlflow_uri, experiment=experiment,
                                        run_name=Path(run_dir).name if run_dir else None))
            continue
        if run_dir is None:
            raise ConfigError(f"--log-to {name} writes into the run folder: give one with "
                              "--out (out=...)" + (" or --mlflow-uri" if name == "mlflow" else ""))
        run_dir = Path(run_dir)
        if name == "tensorboard":
            loggers.append(TensorBoardLogger(run_dir / TENSORBOARD_FOLDER))
        else:
            loggers.append(MlflowLogger(run_dir / MLFLOW_FOLDER, experiment=experiment,
                                        run_name=run_dir.name))
    return loggers


class TensorBoardLogger(Callbacks):
    """Writes a run's metrics as TensorBoard event files into ``logdir`` (tensorboardX's
    ``SummaryWriter``; created when training starts, closed when it ends)."""

    def __init__(self, logdir: str | os.PathLike):
        require("tensorboard")
        self.logdir = Path(logdir)
        self.writer: Any = None
        super().__init__(on_start=self.start, on_epoch_end=self.epoch_end,
                         on_progress=self.progress, on_end=self.end)

    def start(self, config: TrainConfig, dataset: Any) -> None:
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(logdir=str(self.logdir))
        self.writer.add_text("config", _config_table(config), global_step=0)

    def epoch_end(self, record: dict[str, Any]) -> None:
        for name, value in epoch_metrics(record).items():
            self.writer.add_scalar(f"epoch/{name}", value, global_step=record["epoch"])
        self.writer.flush()

    def progress(self, point: dict[str, Any]) -> None:
        for name in ("loss", "accuracy"):
            self.writer.add_scalar(f"running/{name}", point[name], global_step=point["samples"])

    def end(self, result: TrainResult | None) -> None:
        if self.writer is None:
            return
        if result is not None:
            for name, value in final_metrics(result).items():
                self.writer.add_scalar(f"final/{name}", value,
                                       global_step=len(result.history.epochs))
        self.writer.close()
        self.writer = None


class MlflowLogger(Callbacks):
    """Logs a run to MLflow: a new MLflow run in ``experiment`` at the tracking URI
    ``tracking`` (a folder, a ``file:`` URI, ``http://...``, ``sqlite:///...``), through
    ``MlflowClient`` (no global active run is touched). Metrics of the running trace are sent
    in one batch per epoch."""

    def __init__(self, tracking: str | os.PathLike, *, experiment: str = DEFAULT_EXPERIMENT,
                 run_name: str | None = None):
        require("mlflow")
        self.tracking_uri = _tracking_uri(tracking)
        self.experiment, self.run_name = experiment, run_name
        self.client: Any = None
        self.run_id: str | None = None
        self._pending: list[Any] = []  # metrics of the trace not sent yet
        super().__init__(on_start=self.start, on_epoch_end=self.epoch_end,
                         on_progress=self.progress, on_end=self.end)

    def start(self, config: TrainConfig, dataset: Any) -> None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        if self.tracking_uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        found = self.client.get_experiment_by_name(self.experiment)
        experiment_id = found.experiment_id if found is not None else \
            self.client.create_experiment(self.experiment)
        run = self.client.create_run(experiment_id, run_name=self.run_name,
                                     tags={"digitlab.dataset": config.dataset})
        self.run_id = run.info.run_id
        params = [Param(name, _param_value(value)) for name, value in config.to_dict().items()]
        self.client.log_batch(self.run_id, params=params)

    def epoch_end(self, record: dict[str, Any]) -> None:
        metrics = [self._metric(name, value, record["epoch"])
                   for name, value in epoch_metrics(record).items()]
        self._send(metrics)

    def progress(self, point: dict[str, Any]) -> None:
        self._pending += [self._metric(f"running_{name}", point[name], point["samples"])
                          for name in ("loss", "accuracy")]

    def end(self, result: TrainResult | None) -> None:
        if self.run_id is None:
            return
        metrics = [] if result is None else [
            self._metric(f"final_{name}", value, len(result.history.epochs))
            for name, value in final_metrics(result).items()]
        self._send(metrics)
        status = "FAILED" if result is None else \
            "KILLED" if result.status == "interrupted" else "FINISHED"
        self.client.set_terminated(self.run_id, status)
        self.run_id = None

    def _metric(self, name: str, value: float, step: int):
        from mlflow.entities import Metric

        return Metric(name, float(value), int(time.time() * 1000), int(step))

    def _send(self, metrics: Sequence[Any]) -> None:
        batch, self._pending = [*self._pending, *metrics], []
        for start in range(0, len(batch), 1000):  # MLflow takes at most 1000 metrics a batch
            self.client.log_batch(self.run_id, metrics=batch[start : start + 1000])


def epoch_metrics(record: dict[str, Any]) -> dict[str, float]:
    """The numbers of an epoch's record, without the epoch itself and the splits it lacks."""
    return {name: float(value) for name, value in record.items()
            if name != "epoch" and isinstance(value, (int, float))
            and not isinstance(value, bool)}


def final_metrics(result: TrainResult) -> dict[str, float]:
    """The final test evaluation of a run (empty without a test split or when interrupted)."""
    evaluation = result.evaluation
    if evaluation is None:
        return {}
    return {"test_accuracy": float(evaluation.accuracy), "test_loss": float(evaluation.mean_loss)}


def _config_table(config: TrainConfig) -> str:
    """The config as a Markdown table (TensorBoard's text plugin renders Markdown)."""
    rows = [f"| {name} | {format_value(value)} |" for name, value in config.to_dict().items()]
    return "\n".join(["| field | value |", "|---|---|", *rows])


def _param_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _tracking_uri(tracking: str | os.PathLike) -> str:
    """A folder (as a ``file:`` URI) or a URI as given."""
    text = os.fspath(tracking)
    if isinstance(tracking, Path) or "://" not in text and not text.startswith("file:"):
        return Path(text).resolve().as_uri()
    return text
