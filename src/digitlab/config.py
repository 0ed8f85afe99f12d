"""Training configuration: a typed dataclass, two presets, validation, TOML files.

Every field is a training choice that ``digitlab train`` exposes as a flag of the same name
(``hidden`` as ``--hidden 256,128``). The config is validated before anything is built, saved
with every model and shown in every report.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from digitlab.errors import ConfigError
from digitlab.formatting import format_value  # noqa: F401  (labels of config values)
from digitlab.nn.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from digitlab.nn.engines import ENGINES
from digitlab.nn.init import INITS
from digitlab.nn.losses import LOSSES
from digitlab.nn.optimizers import OPTIMIZERS
from digitlab.nn.schedules import SCHEDULES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class TrainConfig:
    """Everything that determines a training run (with the data, and the seed)."""

    hidden: list[int] = field(default_factory=lambda: [784])  # hidden layer widths
    activation: str = "tanh"  # f of the hidden layers
    output_activation: str = "tanh"  # f of the output layer (softmax for ce)
    loss: str = "mse"  # "mse": ½‖y − t‖² with ±1 targets; "ce": softmax cross-entropy
    optimizer: str = "sgd"  # "sgd" or "adam"
    lr: float = 0.01  # η, the learning rate
    momentum: float = 0.0  # SGD momentum μ (0 = plain SGD)
    nesterov: bool = False  # Nesterov momentum (SGD only)
    weight_decay: float = 0.0  # L2 weight decay λ
    schedule: str = "constant"  # learning-rate schedule: constant, step, cosine
    batch_size: int = 1  # samples per update; 1 is the assignment's per-sample update
    epochs: int = 10  # passes over the training data
    init: str = "gaussian"  # gaussian (variance 2/fan-in), glorot, he
    bias: bool = False  # layers with a bias b^l (the assignment has none)
    dtype: str = "float32"  # float32 or float64
    seed: int = 0  # fixes data split, initialisation and shuffling
    dataset: str = "mnist-sample"  # dataset name (see digitlab data info)
    test_fraction: float = 0.1  # held out for testing when the data has no official test split
    validation_fraction: float = 0.0  # carved from training for validation / early stopping
    early_stopping: int = 0  # patience in epochs (0 = off); restores the best weights
    trace_every: int = 1000  # record running E and accuracy every this many samples
    max_train_samples: int = 0  # use only the first N training samples (0 = all)
    engine: str = "fused"  # "fused" (fast) or "reference" (the equations as written); same maths

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field and its value."""
        if isinstance(self.hidden, (int, str)):
            self.hidden = parse_hidden(self.hidden)
        self.hidden = list(self.hidden)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in self.hidden):
            raise ConfigError(f"hidden must be a list of positive integers, got {self.hidden!r}")
        check_choice("activation", self.activation, HIDDEN_ACTIVATIONS)
        check_choice("output_activation", self.output_activation, tuple(ACTIVATIONS))
        check_choice("loss", self.loss, tuple(LOSSES))
        check_choice("optimizer", self.optimizer, tuple(OPTIMIZERS))
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("init", self.init, INITS)
        check_choice("dtype", self.dtype, ("float32", "float64"))
        check_choice("engine", self.engine, ENGINES)
        if self.loss == "ce" and self.output_activation != "softmax":
            raise ConfigError(
                f"loss 'ce' needs output_activation 'softmax', got {self.output_activation!r}"
            )
        check_number("lr", self.lr, low=0.0, low_inclusive=False)
        check_number("momentum", self.momentum, low=0.0, high=1.0)
        check_number("weight_decay", self.weight_decay, low=0.0)
        check_number("test_fraction", self.test_fraction, low=0.0, high=1.0)
        check_number("validation_fraction", self.validation_fraction, low=0.0, high=1.0)
        for name in ("batch_size", "epochs", "trace_every"):
            check_integer(name, getattr(self, name), low=1)
        for name in ("seed", "early_stopping", "max_train_samples"):
            check_integer(name, getattr(self, name), low=0)
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ConfigError("nesterov needs optimizer 'sgd' with a momentum > 0")
        if self.momentum and self.optimizer != "sgd":
            raise ConfigError(f"momentum applies to optimizer 'sgd' only, not {self.optimizer!r}")
        if self.early_stopping and self.validation_fraction == 0:
            raise ConfigError("early_stopping needs a validation_fraction > 0")
        if not isinstance(self.nesterov, bool) or not isinstance(self.bias, bool):
            raise ConfigError("nesterov and bias must be true or false")

    # ------------------------------------------------------------------ derived
    @property
    def sizes(self) -> list[int]:
        """Layer widths from input to output: [784, *hidden, 10]."""
        return [784, *self.hidden, 10]

    @property
    def activations(self) -> list[str]:
        """One activation name per layer."""
        return [self.activation] * len(self.hidden) + [self.output_activation]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_key_dict(self) -> dict[str, Any]:
        """The fields that identify a run: every field, except ``engine`` at its default.

        The default engine is left out so that keys (and the caches built on them) stay those
        of configs written before the field existed; the reference engine computes the same
        maths, yet rounds differently and runs longer, so its runs get keys of their own.
        """
        data = self.to_dict()
        if data["engine"] == DEFAULTS["engine"]:
            del data["engine"]
        return data

    def key(self) -> str:
        """A short hash of the fields (see :meth:`to_key_dict`): equal keys train identically."""
        text = json.dumps(self.to_key_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated)."""
        unknown = set(changes) - set(FIELD_NAMES)
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
        """A config from a mapping (a TOML table, a model file); unknown keys are an error."""
        base = base if base is not None else cls()
        unknown = set(data) - set(FIELD_NAMES)
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return base.replace(**{k: _coerce(k, v) for k, v in data.items()})


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(TrainConfig))
DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)
            if f.default is not dataclasses.MISSING}

def parse_hidden(text: str | int | list) -> list[int]:
    """``"256,128"`` -> [256, 128]; ``""`` or ``"none"`` -> [] (no hidden layer)."""
    if isinstance(text, list):
        return text
    if isinstance(text, int):
        return [text]
    text = text.strip()
    if text.lower() in ("", "none", "0"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(
            f"hidden must be comma-separated layer widths like 256,128, got {text!r}"
        ) from None
    return sizes


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a TOML file, with a clear error naming the file when it is not valid TOML."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None


def config_from_toml(path: str | os.PathLike, base: TrainConfig | None = None) -> TrainConfig:
    """A config from a TOML file whose top level (or ``[train]`` table) holds config fields."""
    data = load_toml(path)
    data = data.get("train", data)
    try:
        return TrainConfig.from_dict(data, base)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def _coerce(name: str, value: Any) -> Any:
    return parse_hidden(value) if name == "hidden" else value


def check_choice(name: str, value: Any, choices: tuple[str, ...], what: str = "") -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``.

    ``what`` prefixes the name in the message (e.g. ``"dream option "``).
    """
    if value not in choices:
        raise ConfigError(f"{what}{name} must be one of {', '.join(choices)}; got {value!r}")


def check_number(name, value, *, low=None, high=None, low_inclusive=True, high_inclusive=False,
                 what: str = "") -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite number within the bounds."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value)):
        raise ConfigError(f"{what}{name} must be a number, got {value!r}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        bound = ">=" if low_inclusive else ">"
        raise ConfigError(f"{what}{name} must be {bound} {low}, got {value!r}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        bound = "<=" if high_inclusive else "<"
        raise ConfigError(f"{what}{name} must be {bound} {high}, got {value!r}")


def check_integer(name, value, *, low, what: str = "") -> None:
    """Raise :class:`ConfigError` unless ``value`` is an integer >= ``low`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what}{name} must be an integer, got {value!r}")
    if value < low:
        raise ConfigError(f"{what}{name} must be >= {low}, got {value!r}")


PRESETS: dict[str, TrainConfig] = {
    # The assignment: 784-784-10, tanh everywhere, ±1 targets, ½‖y − t‖², SGD η = 0.01,
    # per-sample updates, Gaussian init of variance 2/fan-in, no bias.
    "assignment": TrainConfig(),
    # The lab report's final network: 784-1024-1024-10 swish, softmax cross-entropy, Adam.
    "report": TrainConfig(
        hidden=[1024, 1024], activation="swish", output_activation="softmax", loss="ce",
        optimizer="adam", lr=0.001, batch_size=32, epochs=10, init="glorot", bias=True,
    ),
}


def preset(name: str) -> TrainConfig:
    """A copy of the preset called ``name``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], hidden=list(PRESETS[name].hidden))
