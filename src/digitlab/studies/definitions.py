"""The studies a sweep runs: the lab report's four built-in ones and custom TOML grids.

Each study varies one quantity (its *parameter*, the figure's x axis) for every *series*, a line
of the figure, and repeats every point with several seeds. The lab report's studies vary, for
each hidden activation (tanh, sigmoid, relu, swish) and optimizer (SGD, Adam), at batch size 32:

============  ============================  ===============================================
study         quick (default)               ``--full`` (the report's scale)
============  ============================  ===============================================
``epochs``    1..10, from one 10-epoch run  1..20, from one 20-epoch run
``lr``        η = 1e-5, 1e-4, ..., 1        η = 1e-5 .. 1, 11 points (half decades)
``layers``    0..5 hidden layers of 64      0..5 hidden layers of 128
``neurons``   16, 64, 256, 1024 (1 layer)   16, 32, ..., 2048 (1 layer)
============  ============================  ===============================================

The ``epochs`` study trains once per activation × optimizer × seed for the largest number of
epochs and reads the accuracy after each epoch from that run's history: the network after e
epochs of a longer run *is* the network trained for e epochs (the sample order of epoch e depends
only on the seed and e, and the constant learning rate does not look ahead).

The base config (:func:`study_base`) is the report's setup: a softmax output with cross-entropy,
batch size 32, Glorot initialisation and biases, one hidden layer (64 wide in the quick grid, 128
in the full one), trained for 3 epochs (quick, on the first 5,000 training images) or 10 epochs
(full, on all of them). The hidden activation and the optimizer come from the series; the
learning rate, unless the study varies it, is the one that suits the optimizer at batch size 32
(:data:`DEFAULT_LR`: 0.1 for SGD, 0.001 for Adam).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitlab.config import FIELD_NAMES, TrainConfig, load_toml, parse_hidden
from digitlab.errors import ConfigError
from digitlab.formatting import GRID_TITLE, LAYERS_LABEL, format_value
from digitlab.i18n import N_
from digitlab.studies.trials import DataSource, Trial

ACTIVATIONS = ("tanh", "sigmoid", "relu", "swish")
OPTIMIZERS = ("sgd", "adam")
#: Learning rate of each optimizer when a study does not vary it (batch size 32).
DEFAULT_LR = {"sgd": 0.1, "adam": 0.001}
BUILTIN_STUDIES = ("epochs", "lr", "layers", "neurons")
#: the most trials a grid file may expand into (seeds included), checked before expanding it
MAX_GRID_TRIALS = 10_000


@dataclass(frozen=True)
class Scale:
    """How big the built-in studies are: the grid points and the training budget."""

    width: int  # hidden layer width of the base config and of the layers study
    epochs: int  # epochs of every trial except the epochs study's
    max_epochs: int  # the epochs study's single run: accuracy after 1..max_epochs
    max_train_samples: int  # train on the first N training images (0 = all)
    lrs: tuple[float, ...]
    layers: tuple[int, ...]
    neurons: tuple[int, ...]


QUICK = Scale(
    width=64, epochs=3, max_epochs=10, max_train_samples=5000,
    lrs=(1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0),
    layers=(0, 1, 2, 3, 4, 5),
    neurons=(16, 64, 256, 1024),
)
FULL = Scale(
    width=128, epochs=10, max_epochs=20, max_train_samples=0,
    lrs=tuple(float(f"{10 ** (k / 2):.3g}") for k in range(-10, 1)),  # 1e-05, 3.16e-05, ..., 1
    layers=(0, 1, 2, 3, 4, 5),
    neurons=(16, 32, 64, 128, 256, 512, 1024, 2048),
)


@dataclass
class StudyPlan:
    """A study expanded into trials, with what its figure needs to know.

    ``trials`` holds one :class:`Trial` per series × point × seed, in that order (for the
    ``epochs`` study one per series × seed: its points come from each run's history).
    """

    name: str
    parameter: str  # x-axis quantity
    title: str
    xlabel: str
    log_x: bool = False
    per_epoch: bool = False  # points are read from each trial's per-epoch history
    series_keys: tuple[str, ...] = ("activation", "optimizer")
    trials: list[Trial] = field(default_factory=list)


def study_base(scale: Scale = QUICK, dataset: str | None = None) -> TrainConfig:
    """The config every built-in study starts from (see the module docstring)."""
    base = TrainConfig(
        hidden=[scale.width], activation="tanh", output_activation="softmax", loss="ce",
        optimizer="adam", lr=DEFAULT_LR["adam"], batch_size=32, epochs=scale.epochs,
        init="glorot", bias=True, max_train_samples=scale.max_train_samples,
    )
    return base.replace(dataset=dataset) if dataset else base


def builtin_study(
    name: str, base: TrainConfig, scale: Scale = QUICK, *, seeds: int = 3,
    data: DataSource | None = None,
) -> StudyPlan:
    """One of :data:`BUILTIN_STUDIES`, expanded over activations × optimizers × seeds."""
    if name == "epochs":
        plan = StudyPlan(name, "epochs", N_("Accuracy versus the number of epochs"),
                         N_("epochs"), per_epoch=True)
        points = [(scale.max_epochs, {"epochs": scale.max_epochs})]
    elif name == "lr":
        plan = StudyPlan(name, "lr", N_("Accuracy versus the learning rate"),
                         N_("learning rate η"), log_x=True)
        points = [(lr, {"lr": lr}) for lr in scale.lrs]
    elif name == "layers":
        plan = StudyPlan(name, "layers", N_("Accuracy versus the number of hidden layers"),
                         LAYERS_LABEL.format(width=scale.width))
        points = [(n, {"hidden": [scale.width] * n}) for n in scale.layers]
    elif name == "neurons":
        plan = StudyPlan(name, "neurons", N_("Accuracy versus the number of neurons"),
                         N_("neurons in the hidden layer"), log_x=True)
        points = [(n, {"hidden": [n]}) for n in scale.neurons]
    else:
        raise ConfigError(
            f"unknown study {name!r}; expected one of {', '.join(BUILTIN_STUDIES)} "
            "(or a grid file with --grid)"
        )
    for activation, optimizer in itertools.product(ACTIVATIONS, OPTIMIZERS):
        series = {"activation": activation, "optimizer": optimizer}
        defaults = {**series, "lr": DEFAULT_LR[optimizer]}
        for value, changes in points:
            config = base.replace(**{**defaults, **changes})
            plan.trials += _seeded(config, plan, value, series, seeds, data)
    return plan


def _seeded(config, plan, value, series, seeds, data) -> list[Trial]:
    """The point's trial for each of ``seeds`` seeds, counting up from the config's seed."""
    return [
        Trial(config.replace(seed=config.seed + i), plan.name, plan.parameter, value,
              dict(series), data)
        for i in range(seeds)
    ]


# ---------------------------------------------------------------------- TOML grids
_GRID_TOP_KEYS = ("name", "x", "base", "grid")


def load_grid(
    path: str | os.PathLike, base: TrainConfig, *, seeds: int = 3,
    data: DataSource | None = None, dataset: str | None = None,
) -> StudyPlan:
    """A study from a TOML grid file: the cartesian product of ``[grid]``, on ``[base]``.

    The file::

        name = "momentum"          # optional: the study's name (default: the file's stem)
        x = "momentum"             # optional: the x axis (default: the first numeric key)
        [base]                     # optional: fixed TrainConfig fields
        optimizer = "sgd"
        hidden = [64]
        [grid]                     # TrainConfig fields -> lists of values
        momentum = [0.0, 0.5, 0.9]
        activation = ["tanh", "relu"]

    Keys are :class:`~digitlab.config.TrainConfig` fields, named like ``digitlab train``'s
    options (``hidden`` as a list of layer widths, or ``"256,128"``). Every value and every
    combination is validated here, before any trial runs; a problem raises a one-line
    :class:`ConfigError` naming the file, the key and the value. ``dataset`` (the command
    line's ``--dataset``) overrides ``[base]``. The learning rate, when neither table sets it,
    is :data:`DEFAULT_LR` of each trial's optimizer.
    """
    document = load_toml(path)
    where = str(path)
    unknown = [key for key in document if key not in _GRID_TOP_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; expected tables [base] and "
                          "[grid] and optional keys name and x")
    grid = document.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{where}: needs a [grid] table mapping config fields to lists")
    fixed = document.get("base", {})
    if not isinstance(fixed, dict):
        raise ConfigError(f"{where}: base must be a table of config fields")

    for table, entries in (("base", fixed), ("grid", grid)):
        for key in entries:
            _check_field(where, table, key)
    if "seed" in grid:
        raise ConfigError(f"{where}: grid.seed: seeds are set with --seeds (and base.seed)")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: grid.{key} = {values!r}: expected a non-empty list")

    trials = math.prod(len(values) for values in grid.values()) * seeds
    if trials > MAX_GRID_TRIALS:
        sizes = " × ".join(str(len(values)) for values in grid.values())
        raise ConfigError(f"{where}: the grid makes {trials:,} trials ({sizes} values × "
                          f"{seeds} seeds), more than a sweep runs ({MAX_GRID_TRIALS:,})")

    if dataset:
        fixed = {**fixed, "dataset": dataset}
    values = {key: [_field_value(key, v) for v in vs] for key, vs in grid.items()}
    parameter = _x_parameter(where, document.get("x"), values)
    series_keys = tuple(k for k in values if k != parameter and len(values[k]) > 1)
    name = str(document.get("name") or Path(path).stem)
    numeric = all(_is_number(v) for v in values[parameter])
    positive = numeric and min(values[parameter]) > 0
    plan = StudyPlan(
        name, parameter, GRID_TITLE.format(parameter=parameter, file=Path(path).name), parameter,
        log_x=positive and max(values[parameter]) / min(values[parameter]) >= 100,
        series_keys=series_keys,
    )
    set_lr = "lr" in fixed or "lr" in values
    for combination in itertools.product(*values.values()):
        changes = dict(zip(values, combination, strict=True))
        if not set_lr:
            optimizer = changes.get("optimizer", fixed.get("optimizer", base.optimizer))
            changes["lr"] = DEFAULT_LR.get(optimizer, base.lr)
        config = _grid_config(where, base, fixed, changes)
        series = {key: changes[key] for key in series_keys}
        value = changes[parameter] if numeric else format_value(changes[parameter])
        plan.trials += _seeded(config, plan, value, series, seeds, data)
    return plan


def _grid_config(where: str, base: TrainConfig, fixed: dict, changes: dict) -> TrainConfig:
    """``base`` with the ``[base]`` fields and one grid combination; errors name the culprit."""
    try:
        return _replace(base, {**fixed, **changes})
    except ConfigError as error:
        combined = error
    # Name the one value that is invalid on its own, else the combination.
    for table, entries in (("base", fixed), ("grid", changes)):
        for key, value in entries.items():
            try:
                _replace(base, {key: value})
            except ConfigError as error:
                raise ConfigError(f"{where}: {table}.{key} = {value!r}: {error}") from None
    label = ", ".join(f"{k} = {format_value(v)}" for k, v in changes.items())
    raise ConfigError(f"{where}: grid combination ({label}): {combined}") from None


def _replace(base: TrainConfig, changes: dict) -> TrainConfig:
    try:
        return base.replace(**{k: _field_value(k, v) for k, v in changes.items()})
    except TypeError as error:
        raise ConfigError(str(error)) from None


def _check_field(where: str, table: str, key: str) -> None:
    if key not in FIELD_NAMES:
        raise ConfigError(
            f"{where}: unknown key {table}.{key}; expected TrainConfig fields "
            f"({', '.join(FIELD_NAMES)})"
        )


def _field_value(key: str, value: Any) -> Any:
    """TOML values as TrainConfig expects them: hidden as a list, integral floats as floats."""
    if key == "hidden":
        try:
            return parse_hidden(value) if isinstance(value, (str, int, list)) else value
        except ConfigError:
            return value  # reported with the key by _with_fields
    types = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    if types[key] == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # lr = 1 and lr = 1.0 are the same trial
    return value


def _x_parameter(where: str, requested: Any, values: dict[str, list]) -> str:
    """The grid key on the x axis: ``x`` if given, else the first numeric key that varies."""
    if requested is not None:
        if requested not in values:
            raise ConfigError(f"{where}: x = {requested!r} is not a key of [grid] "
                              f"({', '.join(values)})")
        return requested
    varying = [k for k, v in values.items() if len(v) > 1] or list(values)
    numeric = [k for k in varying if all(_is_number(v) for v in values[k])]
    return (numeric or varying)[0]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
