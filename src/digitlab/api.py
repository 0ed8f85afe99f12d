"""The public API: what ``import digitlab as dl`` gives, one function per thing the lab does.

Each function is what the command of the same name does (``digitlab train`` is
:func:`train`, ``digitlab dream`` is :func:`dream`...) and takes keyword arguments named like
that command's flags (``--hidden 256,128`` is ``hidden=[256, 128]``, ``--out DIR`` is
``out=DIR``, ``--data DIR`` is ``data_dir=DIR``). Results are objects that show themselves in a
notebook: a run's history plots its curves, an evaluation shows its confusion matrix, dreams
show their images. Where a signature says ``ModelLike``, any of these names the model: a model
file, run folder or ensemble folder, a :class:`~digitlab.modelio.SavedModel`, a
:class:`~digitlab.training.TrainResult` or a network (:class:`~digitlab.models.Model`).

Everything heavy is imported when a function is first called, so ``import digitlab`` stays
fast: ``dl.presets`` takes 0.09 s, while importing :mod:`digitlab.training` (NumPy, SciPy,
Numba's loader) takes 1.4 s and the reporting or analysis modules (matplotlib too) about as
long; those imports inside the functions below are there for that reason alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from digitlab.config import PRESETS, TrainConfig, config_from_toml
from digitlab.config import preset as _preset
from digitlab.errors import ConfigError, DataError
from digitlab.shapes import N_CLASSES

if TYPE_CHECKING:  # the types of the signatures below; their modules load on first call
    from typing import TypeAlias

    import numpy as np
    from matplotlib.figure import Figure

    from digitlab.data import Dataset
    from digitlab.dreaming import DreamOptions, DreamResult, TurnResult
    from digitlab.evaluation import Evaluation
    from digitlab.model_summary import ModelSummary
    from digitlab.modelio import SavedModel
    from digitlab.models import Model
    from digitlab.studies.runner import StudiesResult
    from digitlab.training import Callbacks, TrainResult

    #: what names a model: a model file or run folder (or ensemble folder), a loaded
    #: :class:`~digitlab.modelio.SavedModel`, a :class:`~digitlab.training.TrainResult` or a
    #: network (an :class:`~digitlab.nn.network.MLP` or any other :class:`~digitlab.models.Model`)
    ModelLike: TypeAlias = "str | os.PathLike[str] | SavedModel | TrainResult | Model"


class Presets:
    """The named starting configurations: ``dl.presets.assignment``, ``dl.presets.report``...

    Each attribute is a fresh :class:`TrainConfig` (changing it changes no other);
    ``dl.presets.names()`` lists them and ``dl.presets["report"]`` works too.
    """

    def __getattr__(self, name: str) -> TrainConfig:
        if name.startswith("_") or name not in PRESETS:
            raise AttributeError(f"no preset {name!r}; presets: {', '.join(PRESETS)}")
        return _preset(name)

    def __getitem__(self, name: str) -> TrainConfig:
        return _preset(name)

    def __dir__(self) -> list[str]:
        return [*PRESETS, "names"]

    def __iter__(self) -> Iterator[str]:
        return iter(PRESETS)

    def names(self) -> list[str]:
        return list(PRESETS)

    def __repr__(self) -> str:
        return f"presets({', '.join(PRESETS)})"


presets = Presets()


def load_dataset(
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    test_fraction: float = 0.1,
    validation_fraction: float = 0.0,
    cache_dir: str | os.PathLike | None = None,
) -> Dataset:
    """A dataset split into ``train``, ``validation`` and ``test``, images scaled to [0, 1].

    ``dataset`` is ``"mnist-sample"`` (shipped, the default), ``"mnist"`` or ``"fashion-mnist"``
    (after ``digitlab data download``); ``data_dir`` a folder of the four IDX files. Each split
    has ``images`` (N, 784) float32 and ``labels`` (N,) int64; ``dataset.show()`` draws examples.
    """
    from digitlab.data import load_dataset as load

    return load(dataset, data_dir, seed=seed, test_fraction=test_fraction,
                validation_fraction=validation_fraction, cache_dir=cache_dir)


def train(
    config: TrainConfig | str | os.PathLike | Any = None,
    labels: Any = None,
    *,
    preset: str | None = None,
    out: str | os.PathLike | None = None,
    dataset: str | Dataset | None = None,
    data_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    on_start: Callable[[TrainConfig, Dataset], None] | None = None,
    load_data: Callable[..., Dataset] | None = None,
    log_to: str | Sequence[str] | None = None,
    mlflow_uri: str | os.PathLike | None = None,
    callbacks: Callbacks | Sequence[Callbacks] | None = None,
    **fields: Any,
) -> TrainResult:
    """Train a network; return the run with its ``network``, ``history`` and ``evaluation``.

    The configuration is ``config`` (a :class:`TrainConfig` or a TOML file, like ``--config``)
    or the ``preset`` (default ``"assignment"``), then any :class:`TrainConfig` field given as a
    keyword: ``dl.train(preset="report", epochs=3, hidden=[256])``. With ``out`` the run folder
    receives the model, config and history after every epoch, then ``curves.png`` and
    ``evaluation.json``; a run already there is continued with ``resume=True`` (its saved
    config, where only ``epochs`` and ``engine`` may change) or replaced with
    ``overwrite=True``. ``dataset`` (a name, or a loaded Dataset) and ``data_dir`` choose the
    data; by default the config's, split by its seed. The run folder is locked while the run
    writes it (a second writer is refused, naming the first); ``on_start(config, dataset)`` is
    called once both are known, before the first epoch. ``load_data(config, data_dir,
    name=dataset)`` reads the data (default :func:`digitlab.data.load_run_dataset`).

    Your own arrays: ``dl.train(X, y, ...)`` or ``dl.train(dataset=(X, y), ...)``, ``X``
    (N, d) finite numbers and ``y`` (N,) class numbers 0..K−1 with K ≥ 2: the network reads d
    inputs into K outputs, and a stratified ``test_fraction`` (``validation_fraction``) is
    held out by the seed as for the embedded sample. Bad arrays (NaN, not 2-D, labels that
    are not whole numbers, a single class) are refused in one line; options made for 28×28
    images (deskew, augmentation, attacks, outlier exposure) are refused for other widths.

    ``log_to`` (``"tensorboard"``, ``"mlflow"``, a list or a comma-separated string) also logs
    the run to TensorBoard event files (``out/tensorboard``) or MLflow (``out/mlruns``, or the
    tracking URI ``mlflow_uri``): :mod:`digitlab.tracking`, ``pip install
    'digitlab[tracking]'``. ``callbacks`` (a :class:`~digitlab.training.Callbacks`, such as
    ``dl.TensorBoardLogger(folder)``, or a list of them) are called as training goes.
    """
    from digitlab.data import Dataset, dataset_from_arrays, load_run_dataset
    from digitlab.tracking import loggers_for
    from digitlab.training import Callbacks
    from digitlab.training import train as run_training

    if labels is not None:  # dl.train(X, y)
        if dataset is not None:
            raise ConfigError("give your arrays once: dl.train(X, y) or dataset=(X, y)")
        config, dataset = None, (config, labels)
    elif config is not None and not isinstance(config, (TrainConfig, str, os.PathLike)):
        raise ConfigError(f"config must be a TrainConfig or a TOML file, got "
                          f"{type(config).__name__}; for arrays give dl.train(X, y)")
    arrays = dataset if isinstance(dataset, tuple) else None
    if arrays is not None and len(arrays) != 2:
        raise DataError(f"dataset=(X, y) takes two arrays, images and labels; got "
                        f"{len(arrays)} items")
    loaded = dataset if isinstance(dataset, Dataset) else None
    name = None if loaded is not None or arrays is not None else dataset
    config = run_config(config, preset=preset, out=out, resume=resume, dataset=name, **fields)
    loggers = loggers_for(log_to, out, mlflow_uri=mlflow_uri)  # refused here, before any work
    given = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    if arrays is not None:
        loaded = dataset_from_arrays(*arrays, seed=config.data_seed,
                                     test_fraction=config.test_fraction,
                                     validation_fraction=config.validation_fraction)
    load = load_data or load_run_dataset

    def read(config: TrainConfig, data_dir: str | os.PathLike | None) -> Dataset:
        return load(config, data_dir, name=name)

    return run_training(config, loaded, data_dir=data_dir, run_dir=out, resume=resume,
                        overwrite=overwrite, progress=progress, load_data=read,
                        callbacks=[*given, *loggers,
                                   Callbacks(on_start=on_start, on_epoch_end=on_epoch_end)])


def run_config(
    config: TrainConfig | str | os.PathLike | None = None,
    *,
    preset: str | None = None,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    dataset: str | None = None,
    **fields: Any,
) -> TrainConfig:
    """The configuration :func:`train` runs with these arguments (see there), validated.

    A :class:`TrainConfig` ``config``, else the ``preset`` (default ``"assignment"``) or, with
    ``resume``, the config saved in the run folder ``out``; over it the fields of the TOML file
    that ``config`` names (``--config``); then ``dataset`` and the other fields given.
    """
    from digitlab.modelio import MODEL_FILE
    from digitlab.training import load_run_config

    if resume:
        if out is None:
            raise ConfigError("resume needs the run folder: give out=RUN_DIR (--resume RUN_DIR)")
        if preset is not None:
            raise ConfigError("--preset cannot be used with --resume: the run's saved config "
                              "is continued (only --epochs and --engine may change)")
        if not (Path(out) / MODEL_FILE).is_file():
            raise ConfigError(f"{out}: nothing to resume (no {MODEL_FILE}; the run finished "
                              "no epoch)")
        base = load_run_config(out)
    elif isinstance(config, TrainConfig):
        if preset is not None:
            raise ConfigError("give a config or a preset, not both")
        base = config
    else:
        base = _preset(preset or "assignment")
    if isinstance(config, (str, os.PathLike)):
        config = config_from_toml(config, base)  # the file's fields over the preset's
    elif not isinstance(config, TrainConfig):
        config = base
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig or a TOML file, got {config!r}")
    if dataset is not None:
        fields = {**fields, "dataset": dataset}
    return config.replace(**fields) if fields else config


def load_model(path: str | os.PathLike) -> SavedModel:
    """A model file, run folder or ensemble folder: ``.network``, ``.config``, ``.metadata``
    (never pickle)."""
    from digitlab.loading import load_any

    return load_any(path)


def evaluate(
    model: ModelLike,
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    *,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
) -> Evaluation:
    """How well ``model`` reads ``images`` (N, 784) with ``labels`` (N,): an Evaluation.

    Models trained on arrays of other widths take theirs: ``images`` (N, d), ``labels`` 0..K−1.

    Without images, the test split the model was trained with (its saved dataset, seed and
    fractions), or that of ``dataset`` / ``data_dir``. The result has ``accuracy``,
    ``mean_loss``, ``per_digit_accuracy``, ``confusion_matrix``, ``predictions``,
    ``probabilities``; in a notebook it shows its confusion matrix, ``.plot()`` draws it.
    ``model`` may be an ensemble folder (its E is that of the averaged probabilities).
    """
    if images is None:
        return evaluate_test_split(model, dataset=dataset, data_dir=data_dir).evaluation
    if labels is None:
        raise DataError("evaluate needs the labels of the images it is given")
    from digitlab.evaluation import evaluate as run_evaluation

    network, config, _ = _readable_model(model, digits=False)
    return run_evaluation(network, images, labels, _loss_of(network, config))


class TestEvaluation(NamedTuple):
    """What ``digitlab evaluate`` reports: the model's path, the dataset's name and the
    :class:`~digitlab.evaluation.Evaluation` of its test split."""

    path: str | None
    dataset: str
    evaluation: Evaluation


def evaluate_test_split(model: ModelLike, *, dataset: str | None = None,
                        data_dir: str | os.PathLike | None = None) -> TestEvaluation:
    """:func:`evaluate` on the test split the model was trained with (or that of ``dataset``
    / ``data_dir``), with the names ``digitlab evaluate`` prints."""
    from digitlab.evaluation import evaluate as run_evaluation

    network, config, path = _readable_model(model)
    data = dataset_for_model(config, dataset, data_dir, require=("test",))
    test = data.split("test")
    result = run_evaluation(network, test.images, test.labels,
                            _loss_of(network, config))
    return TestEvaluation(path, data.name, result)


def analyze(
    model: ModelLike,
    out: str | os.PathLike = "analysis",
    *,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    retrain: int = 5,
    retrain_epochs: int | None = None,
    seed: int = 0,
    nondigits: int = 500,
    progress: bool = True,
    figures: bool = True,
) -> dict[str, Any]:
    """Which digits ``model`` confuses and reads worst, its mistakes, how retraining changes
    them and what it answers to images that are not digits; figures and ``analysis.json`` go
    to ``out`` (``figures=False``: the numbers and findings alone). ``retrain=0`` skips the
    retrainings. ``model`` may be an ensemble folder.
    ``out`` is locked while it is written (a second writer is refused, naming the first)."""
    from digitlab.analysis.pipeline import analyze as run_analysis
    from digitlab.loading import load_digit_model, resolve_model
    from digitlab.modelio import check_digit_shape
    from digitlab.runlock import claim_folder

    if isinstance(model, (str, os.PathLike)):
        # once, keeping its path for analysis.json; a bad file is refused before anything
        model = load_digit_model(model)
    network, config, path = resolve_model(model)
    check_digit_shape(path, network.sizes)  # its figures and non-digits are 28×28 digits
    with claim_folder(out, "analysis folder"):  # before any work: writable, ours alone
        data = dataset_for_model(config, dataset, data_dir, require=("train", "test"))
        return run_analysis(model, data, out, retrain=retrain, config=config,
                            progress=progress, seed=seed, retrain_epochs=retrain_epochs,
                            nondigit_count=nondigits, figures=figures)


def dream(
    model: ModelLike,
    digit: int | str | Sequence[int] = "all",
    *,
    out: str | os.PathLike | None = None,
    start: str | os.PathLike | np.ndarray = "black",
    steps: int | None = None,
    lr: float | None = None,
    plain: bool = False,
    ascent: bool = False,
    no_blur: bool = False,
    no_jitter: bool = False,
    faint: bool = False,
    tv: float | None = None,
    l2: float | None = None,
    support: float | None = None,
    turn: tuple[int, int] | None = None,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = False,
) -> Dreams:
    """What ``model`` sees as each digit: equation (3) from a black image (or ``start``).

    ``digit`` is one digit, several, or ``"all"``; ``turn=(3, 8)`` also changes a real 3 until
    the network reads an 8. The other keywords are ``digitlab dream``'s flags. With ``out`` the
    figures, ``dreams.npy`` and ``dream.json`` are written there. Returns :class:`Dreams`, which
    shows its images in a notebook.
    """
    import numpy as np

    from digitlab.dreaming import (
        DreamOptions,
        class_means,
        data_support,
        dream_all,
        dream_study,
        pick_test_image,
        turn_into,
    )
    from digitlab.dreaming.study import DREAMS_ARRAY
    from digitlab.loading import resolve_model
    from digitlab.modelio import check_digit_shape

    network, config, path = resolve_model(model)
    check_digit_shape(path, network.sizes)  # dreams are 28×28 digits
    options = dream_options(plain=plain, steps=steps, lr=lr, no_blur=no_blur,
                            no_jitter=no_jitter, tv=tv, l2=l2, seed=seed, ascent=ascent,
                            faint=faint)
    if support is None:
        support = 0.0 if plain or ascent else DEFAULT_SUPPORT
    extra = {"model": path}
    if isinstance(start, (str, os.PathLike)) and str(start) not in ("black", "noise", "mean"):
        extra["start_image"] = str(start)
        start = _start_image(start)
    elif not isinstance(start, np.ndarray):
        start = str(start)  # one of the named starts
    data = dataset_for_model(config, dataset, data_dir, require=("train", "test"))
    digits, loss = _digits(digit), config.loss if config is not None else None
    train_split, test = data.split("train"), data.split("test")
    means = class_means(train_split.images, train_split.labels, network.sizes[-1])[digits]
    if out is not None:  # the figures, dreams.npy and dream.json, as digitlab dream writes them
        record = dream_study(
            network, out, digits=digits, start=start, options=options, loss=loss,
            train_images=train_split.images, train_labels=train_split.labels,
            support_fraction=support, turn=turn, test_images=test.images,
            test_labels=test.labels, progress=progress,
            extra={**extra, "dataset": data.name},
        )
        images = np.load(Path(out) / DREAMS_ARRAY, allow_pickle=False)  # (n, 784)
        probabilities = np.array([d["final_probabilities"] for d in record["dreams"]])
        return Dreams(digits, images, probabilities, means, record=record, out=Path(out))

    if isinstance(start, str) and start == "mean":
        start = means
    pixels = data_support(train_split.images, support) if support else None
    results = dream_all(network, digits, start, options, loss, support=pixels,
                        progress=progress)
    turned = None
    if turn is not None:
        index = pick_test_image(network, test.images, test.labels, turn[0], options.seed)
        turned = turn_into(network, test.images[index], turn[1],
                           DreamOptions.turn(seed=options.seed), loss, from_digit=turn[0])
    return Dreams(digits, np.stack([r.image for r in results]),
                  np.stack([r.probabilities for r in results]), means, results=results,
                  turn=turned)


class Dreams:
    """What :func:`dream` returns; in a notebook it shows the dreams above the class means.

    ``digits``; ``images`` (n, 784), the dreams; ``probabilities`` (n, 10), the network's
    final reading of each; ``means`` (n, 784), the training images' mean of each digit;
    ``results``, the :class:`~digitlab.dreaming.DreamResult` of each (with its curves) and
    ``turn``, the :class:`~digitlab.dreaming.TurnResult`, when dreamed in memory; ``record``, what
    ``dream.json`` holds, and ``out``, when written to a folder.
    """

    def __init__(self, digits: Sequence[int], images: np.ndarray, probabilities: np.ndarray,
                 means: np.ndarray, *, results: list[DreamResult] | None = None,
                 turn: TurnResult | None = None, record: dict[str, Any] | None = None,
                 out: Path | None = None) -> None:
        self.digits, self.images, self.probabilities = list(digits), images, probabilities
        self.means, self.results, self.turn = means, results, turn
        self.record, self.out = record, out

    def plot(self) -> Figure:
        """The dreams above the class means, as a matplotlib Figure."""
        from digitlab.plots.dream import dream_grid_figure

        return dream_grid_figure(self.digits, self.images,
                                 [p[d] for d, p in zip(self.digits, self.probabilities,
                                                       strict=True)], self.means)

    def _repr_png_(self) -> bytes:
        from digitlab.plots.inline import figure_png

        return figure_png(self.plot())

    def __repr__(self) -> str:
        reached = ", ".join(f"{d}: p={p[d]:.3f}"
                            for d, p in zip(self.digits, self.probabilities, strict=True))
        return f"Dreams({reached})"


def sweep(
    *studies: str,
    out: str | os.PathLike = "sweep",
    grid: str | os.PathLike | None = None,
    executor: str = "local",
    address: str | None = None,
    seeds: int = 3,
    full: bool = False,
    workers: int | None = None,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> StudiesResult:
    """Hyperparameter studies (``"epochs"``, ``"lr"``, ``"layers"``, ``"neurons"`` or a TOML
    ``grid``), ``seeds`` trials per point, in local processes or on Ray; tables and figures go
    to ``out``, finished trials are kept there so a rerun skips them."""
    from digitlab.studies.runner import run_studies

    return run_studies(studies, out, grid_file=grid, executor=executor, address=address,
                     seeds=seeds, full=full, workers=workers, dataset=dataset,
                     data_dir=data_dir, progress=progress)


def report(
    out: str | os.PathLike = "report",
    *,
    quick: bool = False,
    full: bool = False,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    fresh: bool = False,
    seed: int = 0,
    stage: Sequence[str] = (),
    progress: bool = True,
    lang: str | None = None,
) -> dict[str, Any]:
    """The whole study as one HTML report (``out/index.html``, ``report.md``,
    ``summary.json``); ``quick=True`` on tiny settings, ``full=True`` at the report's scale.
    Stages already computed with the same settings are reused unless ``fresh``; ``stage``
    names the only stages to run (with those they build on). ``lang``: "en" or "sl", the
    language of the text and the figures (None: ``DIGITLAB_LANG``, the locale, English)."""
    from digitlab.reporting.build import build_report

    if quick and full:
        raise ConfigError("--quick and --full contradict each other; give one of them (or "
                          "neither, for the default mode)")
    mode = "quick" if quick else "full" if full else "default"
    return build_report(out, dataset=dataset, data_dir=data_dir, mode=mode, fresh=fresh,
                        seed=seed, progress=progress, only=tuple(stage), lang=lang)


def export(
    model: ModelLike, out: str | os.PathLike, *, format: str = "onnx", overwrite: bool = False
) -> Path:
    """Write ``model`` as a standard ONNX graph (:mod:`digitlab.onnx_export`); return the path."""
    from digitlab.onnx_export import export as write

    return write(model, out, format=format, overwrite=overwrite)


class Predictions(NamedTuple):
    """What :func:`predict` returns, and ``digitlab predict`` prints.

    ``classes`` (N,) int64, the class read (the digit, for a digit model); ``probabilities``
    (N, K), calibrated when the model was; ``is_digit`` (N,) bool, whether the top probability
    reaches the model's "not a digit" threshold (all True for a model without one);
    ``calibration``, the model's :class:`~digitlab.calibration.Calibration` or None;
    ``path``, the model's file or folder, when it has one.
    """

    classes: Any
    probabilities: Any
    is_digit: Any
    calibration: Any
    path: str | None


def predict(model: ModelLike, images: Any, *, batch_size: int = 2048) -> Predictions:
    """What ``model`` reads in ``images``: the class of each, its probabilities and whether it
    is a digit at all (see :class:`Predictions`).

    ``images`` is an array of the model's inputs, (N, d) or one row (d,) (for digits
    (N, 784), pixel / 255 in [0, 1], white on black), or image files (a path or a list of
    PNG/JPEG paths, any size or colour, prepared as MNIST was, as ``digitlab predict``
    does; a digit model only). ``model`` is a model file, run folder, ensemble folder, loaded
    model, training result or network; its preprocessing (deskew) is applied first and its
    probabilities are calibrated when it was.
    """
    import numpy as np

    from digitlab.calibration import calibration_of
    from digitlab.data.arrays import check_features

    files = isinstance(images, (str, os.PathLike)) or (
        isinstance(images, (list, tuple)) and len(images) > 0
        and all(isinstance(image, (str, os.PathLike)) for image in images))
    reader, _, path = _readable_model(model, digits=files)
    if files:
        from digitlab.images import load_digit_images
        from digitlab.modelio import check_digit_shape

        check_digit_shape(path, reader.sizes)  # image files hold 28×28 digits
        paths = [images] if isinstance(images, (str, os.PathLike)) else list(images)
        inputs = load_digit_images(paths)  # (N, 784)
    else:
        try:
            one_row = np.ndim(images) == 1
        except ValueError:  # ragged rows: check_features says so
            one_row = False
        inputs = check_features(np.asarray(images)[np.newaxis] if one_row else images)
        if inputs.shape[1] != reader.sizes[0]:
            raise DataError(f"images have {inputs.shape[1]} values per row; the model reads "
                            f"{reader.sizes[0]}")
    calibration = calibration_of(reader)
    if calibration is None:
        probabilities = reader.probabilities(inputs, batch_size)  # (N, K)
        is_digit = np.ones(len(inputs), dtype=bool)
    else:  # the probabilities and Calibrated.is_digit's tests from one forward pass
        probabilities, is_digit = calibration.decide(reader.model, inputs, batch_size)
    return Predictions(probabilities.argmax(axis=1).astype(np.int64), probabilities, is_digit,
                       calibration, path)


def summary(model: ModelLike) -> ModelSummary:
    """A single network's layers and parameter count, its architecture and its training
    config: what ``digitlab summary`` prints (``str(dl.summary(run))``; a notebook shows the
    same text). ``model`` is a model file, run folder, loaded model, training result or
    network."""
    from digitlab.loading import resolve_model
    from digitlab.model_summary import describe
    from digitlab.modelio import load_model
    from digitlab.nn.network import MLP
    from digitlab.training import TrainResult

    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)  # a single network's file (an ensemble has no one table)
    network, config, path = resolve_model(model)
    if not isinstance(network, MLP):
        raise ConfigError(f"summary describes a single network, not {type(network).__name__}; "
                          "give one of its members")
    metadata = getattr(model, "metadata", None)
    if isinstance(model, TrainResult):
        metadata = {"epoch": len(model.history.epochs), "optimizer": model.optimizer.name}
    return describe(network, config, metadata, path)


def ensemble(*models: ModelLike, out: str | os.PathLike) -> SavedModel:
    """Join ``models`` (model files or run folders, or training results and loaded models
    that have one) into an ensemble folder ``out`` that averages their class probabilities,
    as ``digitlab ensemble`` does; return it loaded (evaluate, predict and analyze take it like
    a single model). The members must share their test split: train them with the same
    ``split_seed``."""
    from digitlab.ensembles import save_ensemble
    from digitlab.loading import load_any

    sources = []
    for model in models:
        if isinstance(model, (list, tuple)):
            raise ConfigError("give the members one by one: dl.ensemble(run1, run2, out=...)")
        source = model if isinstance(model, (str, os.PathLike)) else (
            getattr(model, "path", None) or getattr(model, "run_dir", None))
        if source is None:
            raise ConfigError(f"an ensemble is made of saved models; {type(model).__name__} has "
                              "no file (train it with out=, or dl.save_model it first)")
        sources.append(source)
    if len(sources) < 2:
        raise ConfigError(f"an ensemble needs at least two members, got {len(sources)}")
    return load_any(save_ensemble(sources, out))


def download(name: str, *, cache_dir: str | os.PathLike | None = None, timeout: float = 30.0,
             progress: bool = True) -> Path:
    """Fetch a dataset's four published files (``"mnist"``, ``"fashion-mnist"``) into the
    download cache, each verified by SHA-256, as ``digitlab data download`` does; return their
    folder. Afterwards ``dl.load_dataset(name)`` and ``dl.train(dataset=name)`` read them."""
    from digitlab.data import download_dataset

    bars = _DownloadBars() if progress else None
    try:
        return download_dataset(name, cache_dir, timeout=timeout, progress=bars)
    finally:
        if bars is not None:
            bars.close()


class _DownloadBars:
    """tqdm progress bars, one per file, fed by ``download_dataset``'s progress callback."""

    def __init__(self) -> None:
        self.bars: dict = {}

    def __call__(self, file_name: str, done: int, total: int | None) -> None:
        from tqdm import tqdm

        bar = self.bars.get(file_name)
        if bar is None:
            bar = self.bars[file_name] = tqdm(total=total, desc=file_name, unit="B",
                                              unit_scale=True, unit_divisor=1024, leave=True)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def save_model(model: ModelLike, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``model`` (a training result, a loaded model or a network) to the model file
    ``path`` (``.npz``: arrays and JSON metadata, never pickle), atomically; return the path.

    A training result keeps its config (so its preprocessing), calibration, history and
    optimizer state, like a run folder's ``model.npz``; ``dl.load_model(path)`` reads it back.
    An existing file is kept unless ``overwrite``.
    """
    from digitlab.errors import OutputError
    from digitlab.modelio import SavedModel
    from digitlab.modelio import save_model as write
    from digitlab.nn.network import MLP
    from digitlab.outputs import check_output_file
    from digitlab.training import TrainResult, model_file_extras

    path = check_output_file(path, (".npz",), what="model file")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} already exists; choose another path or pass overwrite=True")
    if isinstance(model, TrainResult):
        extra = model_file_extras(model.history, model.calibration)
        return write(path, model.network, config=model.config,
                     optimizer_name=model.optimizer.name,
                     optimizer_state=model.optimizer.state_dict(), extra=extra,
                     extra_arrays=None if model.calibration is None
                     else model.calibration.arrays())
    if isinstance(model, SavedModel) and isinstance(model.network, MLP):
        kept = {k: model.metadata[k] for k in ("epoch", "history", "calibration")
                if k in model.metadata}
        calibration = model.calibration
        return write(path, model.network, config=model.config, extra=kept,
                     extra_arrays=None if calibration is None else calibration.arrays())
    if isinstance(model, MLP):
        return write(path, model)
    raise ConfigError(f"save_model writes a single network (a training result, a loaded model "
                      f"or an MLP), not {type(model).__name__}; an ensemble is a folder: "
                      "dl.ensemble(..., out=DIR)")


# ------------------------------------------------------------------------------ helpers
DEFAULT_SUPPORT = 0.1


def dream_options(*, plain: bool = False, steps: int | None = None, lr: float | None = None,
                  no_blur: bool = False, no_jitter: bool = False, tv: float | None = None,
                  l2: float | None = None, seed: int = 0, ascent: bool = False,
                  faint: bool = False) -> DreamOptions:
    """The :class:`DreamOptions` the flags describe (explicit flags win over ``plain`` and
    ``ascent``)."""
    from digitlab.dreaming import DreamOptions

    if plain and ascent:
        raise ConfigError("--plain and --ascent are two different dreams: choose one")
    bare = plain or ascent
    base = DreamOptions.plain() if plain else DreamOptions.ascent() if ascent else DreamOptions()
    changes: dict[str, Any] = {"seed": seed}
    for name, value in (("steps", steps), ("lr", lr), ("tv", tv), ("l2", l2)):
        if value is not None:
            changes[name] = value
    if no_blur:
        changes["blur_every"] = 0
    if no_jitter:
        changes["jitter"] = 0
    if faint:
        changes["full_contrast"] = False
    if "steps" in changes and not bare:
        # keep the shaping phase and the persistence step in proportion to the budget
        scale = changes["steps"] / base.steps
        changes["min_steps"] = min(changes["steps"], round(base.min_steps * scale))
        changes["persist_after"] = min(changes["steps"], round(base.persist_after * scale))
    return base.replace(**changes)


def dataset_for_model(config: TrainConfig | None, dataset: str | None = None,
                      data_dir: str | os.PathLike | None = None,
                      require: Sequence[str] = ("test",)) -> Dataset:
    """The dataset a model was trained on, split as in training.

    The saved config's seed, test and validation fractions reproduce the same held-out test
    split; ``dataset`` / ``data_dir`` replace the config's dataset when given. A model without a
    config gets the defaults of :class:`TrainConfig`.
    """
    from digitlab.data import ARRAYS_NAME, DATASET_NAMES, load_run_dataset

    config = config if config is not None else TrainConfig()
    name = dataset if dataset is not None else (None if data_dir is not None else config.dataset)
    if name == ARRAYS_NAME:
        raise DataError("the model was trained on arrays given in Python, which digitlab does "
                        "not keep; give them: dl.evaluate(model, X, y)")
    if name is not None and name not in DATASET_NAMES:
        raise DataError(f"the model was trained on data from a folder named {name!r}; "
                        "give that folder with --data DIR (or choose --dataset)")
    return load_run_dataset(config, data_dir, name=name, require=require)


def _start_image(path: str | os.PathLike) -> np.ndarray:
    if not Path(path).is_file():
        raise ConfigError(f"--start must be black, noise, mean or an image file; {path!r} is "
                          "none of these")
    from digitlab.images import load_digit_image

    return load_digit_image(path)


def _digits(digit) -> list[int]:
    if isinstance(digit, str):
        if digit.strip().lower() == "all":
            return list(range(N_CLASSES))
        if digit.strip().isdigit():
            return [int(digit)]
        raise ConfigError(f"--digit must be a digit 0-9 or 'all', got {digit!r}")
    if isinstance(digit, int):
        return [digit]
    return [int(d) for d in digit]


def _readable_model(model, digits: bool = True):
    """(model as it must be fed, config, path): a path is loaded as a digit model (with
    ``digits``; any model otherwise, an ensemble folder too), a loaded model's preprocessing
    is applied before its network and its calibration to its probabilities."""
    from digitlab.loading import load_any, load_digit_model, resolve_model
    from digitlab.modelio import SavedModel
    from digitlab.training import TrainResult

    if isinstance(model, (str, os.PathLike)):
        model = load_digit_model(model) if digits else load_any(model)
    if isinstance(model, (SavedModel, TrainResult)):  # fed as trained: preprocessing first
        path = model.path if isinstance(model, SavedModel) else model.run_dir
        return model.model, model.config, str(path) if path else None
    return resolve_model(model)


def _loss_of(network, config) -> str:
    """The loss E is measured with: the config's; an ensemble's outputs are averaged
    probabilities, so its E is their cross-entropy."""
    from digitlab.ensembles import Ensemble

    ensemble = isinstance(getattr(network, "network", network), Ensemble)
    return config.loss if config is not None and not ensemble else _default_loss(network)


def _default_loss(network) -> str:
    return "ce" if network.output_activation.name == "softmax" else "mse"
