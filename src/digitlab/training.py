"""Training: minibatch backpropagation with a history, checkpoints, resume and early stopping.

``train(config, dataset)`` is the one function the command line, the studies and the report call.
With ``batch_size = 1`` and plain SGD it is the assignment's algorithm: for every sample, a forward
pass, equation (1) for the deltas and equation (2) for the update.

A seed fixes everything random: the data split (done by :mod:`digitlab.data`), the initial weights
and the order of the samples in every epoch. The order of epoch e depends only on (seed, e), so a
run resumed from the checkpoint of epoch e continues exactly as if it had never stopped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from digitlab.calibration import Calibration, calibrate, calibration_split, with_calibration
from digitlab.config import TrainConfig
from digitlab.data import load_run_dataset
from digitlab.data.augment import Augmentation, Prefetcher, augmented_pieces
from digitlab.errors import ConfigError, DataError, Message, RunExistsError, TrainingDiverged
from digitlab.evaluation import Evaluation, evaluate
from digitlab.fileio import write_json
from digitlab.formatting import FigureSpec
from digitlab.history import History, RunningWindow
from digitlab.i18n import N_, domain, number, percent
from digitlab.modelio import MODEL_FILE, load_model, save_model
from digitlab.models import Model
from digitlab.nn.constraints import apply_max_norm
from digitlab.nn.dropout import draw_masks
from digitlab.nn.engines import EngineChoice, for_config
from digitlab.nn.losses import get_loss, smooth_labels
from digitlab.nn.network import MLP
from digitlab.nn.optimizers import Optimizer, make_optimizer
from digitlab.nn.schedules import learning_rate
from digitlab.preprocessing import config_steps, preprocess_dataset, with_preprocessing
from digitlab.robustness import RobustBatches
from digitlab.runfiles import CONFIG_FILE, CURVES_FILE, EVALUATION_FILE
from digitlab.runlock import claim_folder

log = logging.getLogger(__name__)

_report = domain("report")  # the progress bar's words

#: what :func:`train` writes into a run folder besides the checkpoint, once training ends
CURVES_FIGURE = FigureSpec(CURVES_FILE, N_("E and accuracy per epoch and during training"))

# Independent random streams derived from the one seed. The augmentation and dropout streams of
# epoch e are derived from (seed, e) like the sample order, so the checkpoint's epoch count fixes
# their state and a resumed run draws exactly the digits and masks it would have drawn.
_INIT_STREAM, _SHUFFLE_STREAM, _AUGMENT_STREAM, _DROPOUT_STREAM = 1, 2, 3, 4


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    network: MLP
    history: History
    config: TrainConfig
    optimizer: Optimizer
    #: "completed", "early_stopping" or "interrupted" (Ctrl-C; the last completed epoch is kept)
    status: str = "completed"
    run_dir: Path | None = None
    #: the final network on the test split (None without a test split, or when interrupted)
    evaluation: Evaluation | None = None
    #: the temperature (and "not a digit" threshold) fitted after training, with
    #: ``calibration_fraction``
    calibration: Calibration | None = None

    @property
    def model(self) -> Model:
        """The network as it must be fed: raw images in, its preprocessing (deskew) applied
        first, its probabilities calibrated when it was (as ``dl.load_model(run).model``)."""
        return with_calibration(with_preprocessing(self.network, config_steps(self.config)),
                                self.calibration)

    def _repr_html_(self) -> str:
        """Jupyter shows a run as its configuration, its result and its curves."""
        # matplotlib is imported when a figure is first made, not with training (0.2-0.8 s
        # measured with -X importtime; the lab's and the studies' workers never draw)
        from digitlab.plots.inline import figure_html, key_value_html

        config = self.config
        rows = [("network", f"{'-'.join(map(str, config.sizes))} {config.activation} / "
                            f"{config.output_activation}, {config.loss} loss"),
                ("training", f"{config.optimizer} lr {config.lr:g}, batch {config.batch_size}, "
                             f"{len(self.history.epochs)} of {config.epochs} epochs "
                             f"({self.status}), seed {config.seed}"),
                ("data", config.dataset)]
        if self.evaluation is not None:
            rows.append(("test accuracy", f"{self.evaluation.accuracy:.2%} of "
                                          f"{self.evaluation.n} digits"))
        if self.run_dir is not None:
            rows.append(("run folder", str(self.run_dir)))
        curves = figure_html(self.history.plot(), alt="training curves") \
            if self.history.epochs else ""
        return key_value_html("Training run", rows) + curves

    def __repr__(self) -> str:
        accuracy = "" if self.evaluation is None else \
            f", test accuracy {self.evaluation.accuracy:.2%}"
        done = len(self.history.epochs)
        return (f"TrainResult({'-'.join(map(str, self.config.sizes))}, "
                f"{done} epoch{'' if done == 1 else 's'}, {self.status}{accuracy})")



def build_network(config: TrainConfig) -> MLP:
    """The untrained network a config describes, initialised from its seed."""
    rng = np.random.default_rng([config.seed, _INIT_STREAM])
    return MLP(config.sizes, config.activations, bias=config.bias, init=config.init,
               dtype=np.dtype(config.dtype), rng=rng)


def build_optimizer(config: TrainConfig) -> Optimizer:
    return make_optimizer(config.optimizer, config.lr, momentum=config.momentum,
                          nesterov=config.nesterov, weight_decay=config.weight_decay)


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which the n training samples are visited in ``epoch`` (0-based)."""
    return np.random.default_rng([seed, _SHUFFLE_STREAM, epoch]).permutation(n)


def epoch_stream(seed: int, stream: int, epoch: int) -> np.random.Generator:
    """The generator of one random stream (augmentation, dropout) in ``epoch`` (0-based)."""
    return np.random.default_rng([seed, stream, epoch])


def augmentation_for_config(config: TrainConfig) -> Augmentation:
    """The random distortions a config asks for (``enabled`` is False when none)."""
    return Augmentation(rotation=config.augment_rotation, scale=config.augment_scale,
                        shear=config.augment_shear, shift=config.augment_shift,
                        elastic_alpha=config.elastic_alpha, elastic_sigma=config.elastic_sigma)


#: per-sample steps the compiled loop runs before handing control back (progress bar, Ctrl-C);
#: the weights depend on where the calls divide an epoch (in rounding), so it is fixed
SAMPLES_PER_CALL = 128


@dataclass
class Callbacks:
    """What a caller may watch while :func:`train` runs (each optional).

    ``on_start(config, dataset)`` once the config and the data are known, before the first
    epoch (the config's ``dataset`` is then the loaded data's name); ``on_epoch_end(record)``
    with each epoch's record (see :class:`History`); ``on_progress(point)`` with each
    running-metrics record as it is added to ``history.trace`` (every ``trace_every``
    samples), for live displays; ``on_end(result)`` once training has ended, with the
    :class:`TrainResult` (its ``status`` says how it ended) or None when it failed with an
    error (which is then raised). Loggers (:mod:`digitlab.tracking`) are Callbacks too.
    """

    on_start: Callable[[TrainConfig, Any], None] | None = None
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None
    on_progress: Callable[[dict[str, Any]], None] | None = None
    on_end: Callable[[TrainResult | None], None] | None = None


def merge_callbacks(*callbacks: Callbacks | None) -> Callbacks:
    """One :class:`Callbacks` calling the hooks of each of ``callbacks`` in order (a hook
    none of them has stays None, so that training skips it)."""
    present = [c for c in callbacks if c is not None]

    def chained(name: str):
        hooks = [getattr(c, name) for c in present if getattr(c, name) is not None]
        if not hooks:
            return None
        if len(hooks) == 1:
            return hooks[0]

        def call(*args: Any) -> None:
            for hook in hooks:
                hook(*args)

        return call

    return Callbacks(*(chained(f.name) for f in dataclasses.fields(Callbacks)))


def train(
    config: TrainConfig,
    dataset: Any = None,
    *,
    data_dir: str | os.PathLike | None = None,
    run_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    callbacks: Callbacks | Sequence[Callbacks] | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    curves_title: str | None = None,
    load_data: Callable[..., Any] | None = None,
    start: TrainResult | None = None,
) -> TrainResult:
    """Train the network ``config`` describes on ``dataset`` and return it with its history:
    the one way into training (the API, the command line, the studies, the report and the
    lab's worker all come through here).

    Parameters
    ----------
    config : TrainConfig
    dataset : digitlab.data.Dataset, optional
        Loaded with ``load_data(config, data_dir)`` (default
        :func:`digitlab.data.load_run_dataset`: ``config.dataset`` or the IDX files of
        ``data_dir``, split by the config's seed and fractions) when not given.
    run_dir : str or os.PathLike, optional
        Receives after every epoch the model with optimizer state (``model.npz``), the config
        (``config.json``) and the history (``history.json``, ``.csv``, ``trace.csv``). It is
        claimed before any work (checked writable, locked against a second writer); a run
        already there is refused unless ``resume`` or ``overwrite``.
    resume : bool
        Continue the run saved in ``run_dir`` (same config; ``epochs`` may be raised).
    overwrite : bool
        Replace the run saved in ``run_dir``.
    progress : bool
        Show a progress bar with the running E and accuracy.
    callbacks : Callbacks or a sequence of them, optional
        What to call at the start, after each epoch, with each running record and at the
        end (loggers such as :class:`digitlab.tracking.TensorBoardLogger` are Callbacks);
        ``on_epoch_end`` and ``on_progress`` may also be given alone (called after those of
        ``callbacks``).
    curves_title : str, optional
        Title of ``curves.png`` (default: the network, loss, optimizer and dataset).
    start : TrainResult, optional
        Continue this run in memory, as ``resume`` continues a run folder: its network,
        optimizer and history go on (in place) from its last epoch up to ``config.epochs``,
        on ``dataset`` (which may hold other samples of the same width and classes); the
        config may differ from its own in ``epochs`` and ``engine`` only.

    The result's ``evaluation`` is the final network on the test split, whenever there is one.
    A run folder holds, once training ends (not after an interrupt), also ``curves.png`` (E and
    accuracy per epoch and while training) and ``evaluation.json``. With
    ``calibration_fraction`` the network's temperature is fitted on its held-out share of the
    training digits once training ends (``result.calibration``, saved in the model file).

    Raises
    ------
    TrainingDiverged
        When E becomes NaN or infinite; the message names the epoch and batch and, with a run
        folder, whether the last completed epoch is kept there (the last checkpoint is left
        untouched).
    """
    several = callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
    callbacks = merge_callbacks(*several, Callbacks(on_epoch_end=on_epoch_end,
                                                    on_progress=on_progress))
    if run_dir is None:
        if resume:
            raise ConfigError("resume needs a run folder")
        return _train(config, dataset, data_dir, None, resume, progress, callbacks,
                      curves_title, load_data, start)
    if start is not None:
        raise ConfigError("a run continued in memory (start) writes no run folder")
    # one process at a time per run folder, checked writable before any work
    with claim_folder(run_dir, "run folder") as folder:
        if not resume:
            _refuse_existing_run(folder, overwrite)
        try:
            return _train(config, dataset, data_dir, folder, resume, progress, callbacks,
                          curves_title, load_data)
        except TrainingDiverged as error:
            kept = (f"{folder / MODEL_FILE} still holds the last completed epoch"
                    if (folder / MODEL_FILE).is_file() else
                    "no epoch was completed, nothing saved")
            raise TrainingDiverged(f"{error}; {kept}") from None


def _refuse_existing_run(run_dir: Path, overwrite: bool) -> None:
    """Refuse a folder that holds a run unless ``overwrite``. What the replaced run left stays
    until the new run saves its first epoch (:meth:`_Trainer._checkpoint`): a new run that
    fails before that leaves the old one whole."""
    if (run_dir / MODEL_FILE).exists() and not overwrite:
        raise RunExistsError(run_dir, MODEL_FILE)


def _train(config: TrainConfig, dataset: Any, data_dir, run_dir: Path | None, resume: bool,
           progress: bool, callbacks: Callbacks, curves_title: str | None,
           load_data, start: TrainResult | None = None) -> TrainResult:
    """The body of :func:`train`, with the run folder (if any) claimed; ``on_end`` called
    however it ends (while the folder is still held)."""
    try:
        result = _train_claimed(config, dataset, data_dir, run_dir, resume, progress, callbacks,
                                curves_title, load_data, start)
    except BaseException:
        if callbacks.on_end is not None:
            try:
                callbacks.on_end(None)
            except Exception as error:  # the training's own error is the one to raise
                log.warning(Message("on_end of a failed training raised {kind}: {error}",
                                    kind=type(error).__name__, error=error))
        raise
    if callbacks.on_end is not None:
        callbacks.on_end(result)
    return result


def _train_claimed(config: TrainConfig, dataset: Any, data_dir, run_dir: Path | None,
                   resume: bool, progress: bool, callbacks: Callbacks, curves_title: str | None,
                   load_data, start: TrainResult | None) -> TrainResult:
    """Load the data, train, and write or compute the results."""
    if dataset is None:
        dataset = (load_data or load_run_dataset)(config, data_dir)
    name = getattr(dataset, "name", None)
    if name and name != config.dataset and not resume:
        config = config.replace(dataset=name)  # e.g. the name of a --data folder
    config = config_for_data(config, dataset)  # the network's input and output widths
    if callbacks.on_start is not None:
        callbacks.on_start(config, dataset)
    # preprocessing (deskew) once, for training and for every evaluation of this run
    dataset = preprocess_dataset(dataset, config_steps(config))
    loss = get_loss(config.loss)
    network, optimizer, history = build_network(config), build_optimizer(config), History()
    best = None
    if resume:
        network, optimizer, history, best = _restore(run_dir, config)
    elif start is not None:
        _check_same_config(start.config, config, "continue the run in memory")
        network, optimizer, history = start.network, start.optimizer, start.history

    trainer = _Trainer(config, dataset, network, optimizer, loss, history, run_dir, progress,
                       best)
    # A diverging run overflows on its way to inf/NaN; it is reported once, as TrainingDiverged.
    with np.errstate(over="ignore", invalid="ignore"):
        status = trainer.run(callbacks.on_epoch_end, callbacks.on_progress)
    result = TrainResult(network, history, config, optimizer, status, run_dir,
                         calibration=trainer.calibration)
    if status == "interrupted":
        return result
    if run_dir is not None:
        result.evaluation = write_run_results(result, dataset, curves_title)
    else:
        result.evaluation = evaluate_test_split(result, dataset)
    return result


def config_for_data(config: TrainConfig, dataset: Any) -> TrainConfig:
    """``config`` with the widths of ``dataset``: ``n_inputs`` its features per sample and
    ``n_classes`` its number of class names (a dataset without names keeps the config's).

    Every split must have that width and labels 0..n_classes − 1; a config option that needs
    28×28 images (deskew, augmentation, attacks, outlier exposure) is refused for data of
    another width. Each failure is one line.
    """
    splits = {name: getattr(dataset, name, None) for name in ("train", "validation", "test")}
    if splits["train"] is None:
        raise DataError("the dataset has no training split")
    n_inputs = int(np.shape(splits["train"].images)[-1])
    class_names = getattr(dataset, "class_names", None)
    n_classes = len(class_names) if class_names is not None else config.n_classes
    for name, split in splits.items():
        if split is None or not len(split.labels):
            continue
        if np.ndim(split.images) != 2 or np.shape(split.images)[1] != n_inputs:
            raise DataError(f"the {name} split's images have shape {np.shape(split.images)}; "
                            f"expected (N, {n_inputs}) like the training split")
        labels = np.asarray(split.labels)
        if labels.min() < 0 or labels.max() >= n_classes:
            raise DataError(f"the {name} split's labels must lie in 0..{n_classes - 1} "
                            f"({n_classes} classes), found {labels.min()}..{labels.max()}")
    if (n_inputs, n_classes) == (config.n_inputs, config.n_classes):
        return config
    return config.replace(n_inputs=n_inputs, n_classes=n_classes)


def evaluate_test_split(result: TrainResult, dataset: Any) -> Evaluation | None:
    """The final network on ``dataset``'s (preprocessed) test split, its probabilities and
    their ECE calibrated when the run was (None without a test split)."""
    test = getattr(dataset, "test", None)
    if test is None or len(test.labels) == 0:
        return None
    return evaluate(with_calibration(result.network, result.calibration), test.images,
                    test.labels, result.config.loss)


def write_run_results(result: TrainResult, dataset: Any,
                      curves_title: str | None = None) -> Evaluation | None:
    """Write ``curves.png`` and ``evaluation.json`` into the run folder; return the evaluation.

    ``evaluation.json`` is written only when ``dataset`` has a non-empty test split.
    """
    from digitlab.plots.training import plot_training_curves  # matplotlib: see TrainResult

    config, history, run_dir = result.config, result.history, result.run_dir
    name = getattr(dataset, "name", None) or config.dataset
    title = curves_title if curves_title is not None else (
        f"{'-'.join(str(n) for n in config.sizes)} {config.activation}, {config.loss}, "
        f"{config.optimizer} lr {config.lr:g}, batch {config.batch_size} on {name}")
    plot_training_curves(history.epochs, history.trace, run_dir / CURVES_FILE, title=title)
    evaluation = evaluate_test_split(result, dataset)
    if evaluation is None:
        return None
    write_json(run_dir / EVALUATION_FILE, {
        "dataset": name, "split": "test", "status": result.status,
        "epochs": len(history.epochs), "config_key": config.key(), **evaluation.to_dict(),
    })
    return evaluation


class _Trainer:
    """The epoch loop of :func:`train` (state kept here so the loop reads step by step)."""

    def __init__(self, config, dataset, network, optimizer, loss, history, run_dir, progress,
                 best=None):
        self.config, self.network, self.optimizer = config, network, optimizer
        self.loss, self.history, self.run_dir, self.progress = loss, history, run_dir, progress
        train_split = dataset.train
        n = len(train_split.labels)
        if config.max_train_samples:
            n = min(n, config.max_train_samples)
        if n == 0:
            raise ConfigError("the training split is empty")
        images = np.asarray(train_split.images[:n], dtype=network.dtype)  # (N, 784)
        labels = np.asarray(train_split.labels[:n])  # (N,)
        # with calibration_fraction, a share of the training digits is never trained on: the
        # temperature is fitted on it once training ends (neither trained on nor the test tenth)
        self.calibration_digits = None
        self.calibration: Calibration | None = None
        if config.calibration_fraction:
            kept, held = calibration_split(n, config.calibration_fraction, config.data_seed,
                                           labels)
            self.calibration_digits = (images[held], labels[held])
            images, labels = images[kept], labels[kept]
        self.images, self.labels = images, labels
        # (N, 10); smoothed for training only (evaluation measures E against the true digit)
        self.targets = smooth_labels(network.targets(self.labels, loss), config.label_smoothing)
        self.augmentation = augmentation_for_config(config)
        self.dropout = config.dropout_rates
        self._prefetcher: Prefetcher | None = None
        # curves.png and evaluation.json of the run folder, until the first checkpoint of this
        # call replaces the model they describe (written again once training ends)
        self._stale_results = run_dir is not None
        self.validation = getattr(dataset, "validation", None)
        self.test = getattr(dataset, "test", None)
        # early stopping's best so far: (validation loss, params, epoch), or None
        self.best: tuple[float, np.ndarray, int] | None = best
        # "reference": forward, backward, optimizer.step as written; "fused": the same maths
        # reordered for the cache and split over the cores (digitlab.nn.fused), compiled
        # (digitlab.nn.compiled) when Numba is there and implements the whole config; chosen,
        # with its kernels, threads and the reason, by digitlab.nn.engines.for_config
        # adversarial examples and outliers join each batch (digitlab.robustness)
        self.robust = RobustBatches(config, self.images)
        self.engine_choice: EngineChoice = for_config(config, optimizer)
        self.engine = self.engine_choice.engine
        self.engine.prepare(self.network)

    # ------------------------------------------------------------------ the loop
    def run(self, on_epoch_end, on_progress=None) -> str:
        config = self.config
        if self.stopped_early():  # a resumed run that had already stopped: nothing to train
            self._calibrate()
            return "early_stopping"
        snapshot = self._snapshot()
        for epoch in range(len(self.history.epochs), config.epochs):
            trace_length = len(self.history.trace)
            try:
                # The step's products are small: BLAS runs on one thread and the step splits
                # its own work over the cores (see digitlab.nn.parallel).
                with threadpool_limits(limits=1):
                    record = self._train_epoch(epoch, on_progress)
            except KeyboardInterrupt:
                self._close_pieces()
                self._restore_snapshot(snapshot)  # keep the last completed epoch
                del self.history.trace[trace_length:]
                return "interrupted"
            self._evaluate(record)
            self.history.epochs.append(record)
            # the decision first: the epoch's checkpoint holds the early-stopping state after it
            stop = self._should_stop_early(record)
            if self.run_dir is not None:
                self._checkpoint()
            snapshot = self._snapshot()
            if on_epoch_end is not None:
                on_epoch_end(record)
            if stop:
                self._calibrate()
                return "early_stopping"
        self._calibrate()
        return "completed"

    def _calibrate(self) -> None:
        """With ``calibration_fraction``: fit the temperature on the held-out training digits
        (and, with outlier exposure, the "not a digit" threshold), saved with the model."""
        if self.calibration_digits is None:
            return
        images, labels = self.calibration_digits
        self.calibration = calibrate(self.network, images, labels,
                                     with_threshold=bool(self.config.outlier_exposure),
                                     training_digits=(self.images, self.labels),
                                     flatten_below=self.config.flatten_below)
        if self.run_dir is not None:
            self._checkpoint()

    def _train_epoch(self, epoch: int, on_progress=None) -> dict[str, Any]:
        """One pass over the training samples in the epoch's order; the epoch's record.

        ``on_progress`` is called with each running-metrics record as it is added."""
        config = self.config
        n, batch = len(self.labels), config.batch_size
        steps = math.ceil(n / batch)
        order = epoch_order(config.seed, epoch, n)
        start_time = time.perf_counter()
        epoch_loss = epoch_correct = 0.0
        window = RunningWindow(config.trace_every, n, epoch)
        refresh_every = max(1, 2000 // batch)
        lr = config.lr
        pieces = self._epoch_images(epoch, order)  # None without augmentation
        self.dropout_rng = epoch_stream(config.seed, _DROPOUT_STREAM, epoch)
        self.robust.begin_epoch(epoch, self.network)
        with _progress_bar(n, _report.pgettext("progress", "epoch {epoch}/{epochs}").format(
                epoch=epoch + 1, epochs=config.epochs), self.progress) as bar:
            try:
                for step, (count, batch_loss, correct, step_lr) in enumerate(
                        self._steps(order, epoch, steps, pieces)):
                    lr = step_lr
                    epoch_loss += batch_loss
                    epoch_correct += correct
                    seen = (step * batch) + count
                    point = window.add(batch_loss, correct, count, seen,
                                       last=step == steps - 1)
                    if point is not None:
                        self.history.trace.append(point)
                        if on_progress is not None:
                            on_progress(point)
                    if step % refresh_every == 0 or step == steps - 1:
                        bar.set_postfix_str(_progress_postfix(epoch_loss / seen,
                                                              epoch_correct / seen),
                                            refresh=False)
                        bar.update(seen - bar.n)
            except TrainingDiverged:
                self._close_pieces()
                raise
        self._close_pieces()
        if not np.all(np.isfinite(self.network.params)):
            raise TrainingDiverged(f"weights became NaN or infinite in epoch {epoch + 1}")
        return {
            "epoch": epoch + 1,
            "lr": lr,
            "seconds": time.perf_counter() - start_time,
            "train_loss": epoch_loss / n,  # running mean over the epoch, as the bar shows
            "train_accuracy": epoch_correct / n,
        }

    def _steps(self, order: np.ndarray, epoch: int, steps: int, pieces=None):
        """Train the epoch's steps in order, yielding for each (samples, summed E before the
        update, correct answers, learning rate). ``pieces``: the epoch's distorted digits in
        ``order`` (see :meth:`_epoch_images`), or None.

        One loop for every engine: the steps go in runs, each trained by :meth:`_run`, which
        yields a result per step. A run is one step (:meth:`_step`: a forward pass and an
        update through the engine), or, for an engine with a per-sample loop (the compiled
        one, :attr:`Engine.trains_samples`), :data:`SAMPLES_PER_CALL` per-sample steps in one
        call of that loop: a Python call per sample would cost about as much as the sample's
        step (50–100 µs on the assignment's network).

        Raises :class:`TrainingDiverged` when E is NaN or infinite.
        """
        config = self.config
        per_run = SAMPLES_PER_CALL if self.engine.trains_samples else 1
        batches = _Batches(order, config.batch_size, pieces)

        def where(step):
            return f"epoch {epoch + 1}, batch {step + 1} of {steps}"

        for first in range(0, steps, per_run):
            rates = [learning_rate(config.schedule, config.lr, epoch + step / steps,
                                   config.epochs, warmup_epochs=config.warmup_epochs)
                     for step in range(first, min(steps, first + per_run))]
            yield from self._run(batches, first, rates, where)

    def _run(self, batches: _Batches, first: int, rates: list[float], where):
        """Train the steps ``first``, ``first + 1``, … at ``rates`` (one each), yielding for
        each (samples, summed E before the update, correct answers, learning rate)."""
        if not self.engine.trains_samples:
            index, x = batches.batch(first), batches.images(first)
            batch_loss, correct = self._step(index, rates[0], where(first), x)
            yield len(index), batch_loss, correct, rates[0]
            return
        # per-sample SGD (batch size 1): step s is sample order[s], all in one call
        index = batches.order[first : first + len(rates)]
        done, losses, predicted = self.engine.sgd_samples(
            self.network, self.images, self.targets, index, rates, self.loss)
        correct = predicted == self.labels[index[:done]]
        for k in range(done):
            yield 1, float(losses[k]), float(correct[k]), rates[k]
        if done < len(index):
            raise _diverged(float(losses[done]), where(first + done), rates[done])

    def _step(self, index: np.ndarray, lr: float, where: str,
              x: np.ndarray | None = None) -> tuple[float, float]:
        """One update on the samples ``index``: (summed E before the update, correct answers).

        ``x`` (B, 784) replaces the samples' images (their augmented versions). With an attack
        or outlier exposure the batch grows and changes (:class:`RobustBatches`: the digits
        stay its first B rows, on which E and accuracy are measured). With dropout, a fresh
        mask per hidden layer; with max-norm, the constraint after the update.
        Raises :class:`TrainingDiverged` (naming ``where``) when E is NaN or infinite.
        """
        network, loss, digits = self.network, self.loss, len(index)
        x = self.images[index] if x is None else x  # (B, 784)
        t = self.targets[index]  # (B, 10)
        if self.robust.enabled:  # (B + m, 784), (B + m, 10)
            x, t = self.robust.batch(network, x, t, loss, self.engine)
        masks = draw_masks(self.dropout, network.sizes, len(x), self.dropout_rng,
                           network.dtype)
        fp = self.engine.forward(network, x, masks)
        batch_loss = float(loss.per_sample(fp.output[:digits], t[:digits]).sum())  # Σ_b E_b
        if not math.isfinite(batch_loss):
            raise _diverged(batch_loss, where, lr)
        self.engine.update(network, fp, t, loss, self.optimizer, lr)  # equations (1)–(2)
        if self.config.max_norm:
            apply_max_norm(network.weights, self.config.max_norm)
        read = fp.output[:digits].argmax(axis=1)
        correct = float(np.count_nonzero(read == self.labels[index]))
        return batch_loss, correct

    #: digits distorted per piece by the background thread (a whole number of batches)
    augment_piece = 1024

    def _epoch_images(self, epoch: int, order: np.ndarray):
        """None without augmentation; else an iterator over this epoch's distorted training
        digits in ``order``, pieces of whole batches made ahead in a background thread."""
        if not self.augmentation.enabled:
            return None
        batch = self.config.batch_size
        piece = max(1, self.augment_piece // batch) * batch
        rng = epoch_stream(self.config.seed, _AUGMENT_STREAM, epoch)
        images, order_, options = self.images, order, self.augmentation
        self._prefetcher = Prefetcher(
            lambda: augmented_pieces(images, order_, options, rng, piece))
        return iter(self._prefetcher)

    def _close_pieces(self) -> None:
        """Stop the augmentation thread of the epoch (done, interrupted or diverged)."""
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None

    def _evaluate(self, record: dict[str, Any]) -> None:
        for name, split in (("validation", self.validation), ("test", self.test)):
            if split is not None and len(split.labels):
                result = evaluate(self.network, split.images, split.labels, self.loss)
                record[f"{name}_loss"], record[f"{name}_accuracy"] = (result.mean_loss,
                                                                      result.accuracy)
            else:
                record[f"{name}_loss"] = record[f"{name}_accuracy"] = None

    # ------------------------------------------------------------------ state
    def _snapshot(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return self.network.params.copy(), self.optimizer.state_dict()

    def _restore_snapshot(self, snapshot) -> None:
        params, optimizer_state = snapshot
        self.network.params[...] = params
        self.optimizer.load_state_dict(optimizer_state, self.network.params)

    def stopped_early(self) -> bool:
        """Whether the history ends with an early stop (a resumed run that was done)."""
        return bool(self.config.early_stopping and self.history.epochs
                    and self.history.epochs[-1].get("restored_best_epoch"))

    def _should_stop_early(self, record: dict[str, Any]) -> bool:
        """Early stopping's decision after the epoch of ``record``: remember the best epoch, or
        go back to it (and mark the record) once ``early_stopping`` epochs brought nothing
        better. The caller checkpoints the outcome."""
        patience = self.config.early_stopping
        if not patience or record.get("validation_loss") is None:
            return False
        if self.best is None or record["validation_loss"] < self.best[0]:
            self.best = (record["validation_loss"], self.network.params.copy(), record["epoch"])
            return False
        if record["epoch"] - self.best[2] >= patience:
            self.network.params[...] = self.best[1]
            record["restored_best_epoch"] = self.best[2]
            return True
        return False

    def _checkpoint(self) -> None:
        if self._stale_results:  # they describe the replaced run, or an earlier epoch
            self._stale_results = False
            for stale in (CURVES_FILE, EVALUATION_FILE):
                (self.run_dir / stale).unlink(missing_ok=True)
        extra = model_file_extras(self.history, self.calibration)
        extra_arrays = {} if self.calibration is None else self.calibration.arrays()
        if self.best is not None:  # so that a resumed run can still go back to the best epoch
            extra["early_stopping"] = {"best_loss": self.best[0], "best_epoch": self.best[2]}
            extra_arrays["best_params"] = self.best[1]
        save_model(
            self.run_dir / MODEL_FILE, self.network, config=self.config,
            optimizer_name=self.optimizer.name, optimizer_state=self.optimizer.state_dict(),
            extra=extra, extra_arrays=extra_arrays,
        )
        write_json(self.run_dir / CONFIG_FILE, self.config.to_dict())
        self.history.write(self.run_dir)


def model_file_extras(history: History, calibration: Calibration | None) -> dict[str, Any]:
    """What a run's model file holds beside its network and config: the epochs done, the
    history and the calibration (when fitted)."""
    extra: dict[str, Any] = {"epoch": len(history.epochs), "history": history.to_dict()}
    if calibration is not None:
        extra["calibration"] = calibration.to_dict()
    return extra


class _Batches:
    """The batches of an epoch: step s trains the samples order[sB : (s + 1)B] (B the batch
    size) on their stored images, or on their distorted versions, which come in ``pieces`` of
    whole batches in the same order (see :meth:`_Trainer._epoch_images`)."""

    def __init__(self, order: np.ndarray, batch: int, pieces=None):
        self.order, self.batch_size, self.pieces = order, batch, pieces
        self.piece: np.ndarray | None = None  # (P, 784): the distorted digits at hand
        self.piece_start = 0  # the position in ``order`` of the piece's first digit

    def batch(self, step: int) -> np.ndarray:
        """The samples of ``step``: (B,) indices into the training split."""
        return self.order[step * self.batch_size : (step + 1) * self.batch_size]

    def images(self, step: int) -> np.ndarray | None:
        """The distorted images of ``step``'s samples, (B, 784); None without distortions."""
        if self.pieces is None:
            return None
        start = step * self.batch_size
        if self.piece is None or start >= self.piece_start + len(self.piece):
            self.piece_start += 0 if self.piece is None else len(self.piece)
            self.piece = next(self.pieces)
        offset = start - self.piece_start
        return self.piece[offset : offset + len(self.batch(step))]


def _diverged(batch_loss: float, where: str, lr: float) -> TrainingDiverged:
    return TrainingDiverged(f"loss became {batch_loss} at {where} (learning rate {lr:g}); "
                            "try a smaller --lr")


def _restore(run_dir: Path, config: TrainConfig):
    """Network, optimizer, history and early-stopping best from the last checkpoint."""
    saved = load_model(run_dir)
    if saved.config is None:
        raise ConfigError(f"{saved.path}: holds no training config to resume from")
    _check_same_config(saved.config, config, f"resume {run_dir}")
    optimizer = build_optimizer(config)
    optimizer.load_state_dict(saved.optimizer_state, saved.network.params)
    history = History.from_dict(saved.metadata.get("history", {}))
    best = None
    stopping = saved.metadata.get("early_stopping")
    if stopping and "best_params" in saved.extra_arrays:
        best = (stopping["best_loss"], saved.extra_arrays["best_params"], stopping["best_epoch"])
    return saved.network, optimizer, history, best


def _check_same_config(old_config: TrainConfig, config: TrainConfig, what: str) -> None:
    """Refuse to continue a run of ``old_config`` with ``config`` unless they differ in
    ``epochs`` and ``engine`` alone (more epochs; the same maths computed another way)."""
    old, new = old_config.to_dict(), config.to_dict()
    for free in ("epochs", "engine"):
        old.pop(free), new.pop(free)
    changed = sorted(k for k in new if old[k] != new[k])
    if changed:
        details = ", ".join(f"{k}: {old[k]!r} -> {new[k]!r}" for k in changed)
        raise ConfigError(f"cannot {what} with a different config ({details})")


def _progress_postfix(loss: float, accuracy: float) -> str:
    """The running E and accuracy the progress bar shows, in the active language."""
    return _report.pgettext("progress", "E={loss} acc={accuracy}").format(
        loss=number(loss, 4), accuracy=percent(accuracy, 2))


def _progress_bar(total: int, description: str, enabled: bool):
    return tqdm(total=total, desc=description, unit="img", disable=not enabled, leave=False,
                dynamic_ncols=True, mininterval=0.25)


def load_run_config(run_dir: str | os.PathLike) -> TrainConfig:
    """The config saved in a run folder's ``config.json``."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # also not UTF-8, too deep
        raise ConfigError(f"{path}: cannot read run config ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object of config fields")
    try:
        return TrainConfig.from_dict(data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
