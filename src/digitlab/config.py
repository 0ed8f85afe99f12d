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
from digitlab.nn.engine_names import ENGINES
from digitlab.nn.init import INITS
from digitlab.nn.losses import LOSSES
from digitlab.nn.optimizers import OPTIMIZERS
from digitlab.nn.schedules import SCHEDULES

#: The widest layer digitlab builds, and the most parameters a network may have: 100 million
#: float32 values are 400 MB, and each training needs several copies (gradient, optimizer).
MAX_LAYER_WIDTH = 65_536
MAX_PARAMETERS = 100_000_000
MAX_TOML_BYTES = 1 << 20  # config and grid files

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
    # --- beyond the assignment: schedules, regularisation, augmentation, preprocessing
    warmup_epochs: float = 0.0  # warm-up length of warmup/onecycle (0: 1 epoch / 30 % of them)
    dropout: list[float] = field(default_factory=list)  # rate per hidden layer, or one for all
    label_smoothing: float = 0.0  # ε of label smoothing (ce only)
    max_norm: float = 0.0  # bound c on each unit's incoming weight norm (0 = off)
    augment_rotation: float = 0.0  # random rotation ± degrees
    augment_scale: float = 0.0  # random scaling ± this share
    augment_shear: float = 0.0  # random horizontal shear ± this factor
    augment_shift: float = 0.0  # random translation ± pixels
    elastic_alpha: float = 0.0  # elastic distortion: largest displacement in pixels (0 = off)
    elastic_sigma: float = 4.0  # elastic distortion: width of the smoothing Gaussian, pixels
    deskew: bool = False  # straighten every digit by its second moments (training and use)
    split_seed: int = -1  # seed of the data split (−1: seed); ensembles share one split

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field and its value."""
        if isinstance(self.hidden, (int, str)):
            self.hidden = parse_hidden(self.hidden)
        self.dropout = parse_rates(self.dropout)
        self.hidden = list(self.hidden)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in self.hidden):
            raise ConfigError(f"hidden must be a list of positive integers, got {self.hidden!r}")
        too_wide = [n for n in self.hidden if n > MAX_LAYER_WIDTH]
        if too_wide:
            raise ConfigError(f"hidden layer width {too_wide[0]} is more than digitlab allows "
                              f"({MAX_LAYER_WIDTH:,})")
        sizes = self.sizes
        n_params = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes, sizes[1:], strict=False))
        if n_params > MAX_PARAMETERS:
            raise ConfigError(f"hidden {format_value(self.hidden)} gives a network of about "
                              f"{n_params:,} parameters, more than digitlab allows "
                              f"({MAX_PARAMETERS:,})")
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
        if not all(isinstance(v, bool) for v in (self.nesterov, self.bias, self.deskew)):
            raise ConfigError("nesterov, bias and deskew must be true or false")
        self._validate_beyond()

    def _validate_beyond(self) -> None:
        """The options beyond the assignment: schedules, regularisation, augmentation."""
        for name in ("warmup_epochs", "max_norm", "augment_rotation", "augment_scale",
                     "augment_shear", "augment_shift", "elastic_alpha"):
            check_number(name, getattr(self, name), low=0.0)
        check_number("label_smoothing", self.label_smoothing, low=0.0, high=1.0)
        check_number("augment_scale", self.augment_scale, low=0.0, high=1.0)
        check_number("elastic_sigma", self.elastic_sigma, low=0.0, low_inclusive=False)
        check_integer("split_seed", self.split_seed, low=-1)
        if self.label_smoothing and self.loss != "ce":
            raise ConfigError(f"label_smoothing needs loss 'ce', got {self.loss!r}")
        if len(self.dropout) not in (0, 1, len(self.hidden)):
            raise ConfigError(f"dropout needs one rate, or one per hidden layer "
                              f"({len(self.hidden)}), got {self.dropout!r}")
        if any(rate and not self.hidden for rate in self.dropout):
            raise ConfigError("dropout needs at least one hidden layer")
        if self.warmup_epochs and self.schedule not in ("warmup", "onecycle"):
            raise ConfigError(f"warmup_epochs applies to schedules warmup and onecycle, not "
                              f"{self.schedule!r}")

    # ------------------------------------------------------------------ derived
    @property
    def sizes(self) -> list[int]:
        """Layer widths from input to output: [784, *hidden, 10]."""
        return [784, *self.hidden, 10]

    @property
    def activations(self) -> list[str]:
        """One activation name per layer."""
        return [self.activation] * len(self.hidden) + [self.output_activation]

    @property
    def dropout_rates(self) -> list[float]:
        """The dropout rate of each hidden layer (all 0 when dropout is off)."""
        if len(self.dropout) == 1:
            return self.dropout * len(self.hidden)
        return list(self.dropout) or [0.0] * len(self.hidden)

    @property
    def data_seed(self) -> int:
        """The seed that chooses the held-out digits: ``split_seed``, or ``seed`` if −1."""
        return self.seed if self.split_seed < 0 else self.split_seed

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_key_dict(self) -> dict[str, Any]:
        """The fields that identify a run: every field, except ``engine`` at its default.

        The default engine is left out so that keys (and the caches built on them) stay those
        of configs written before the field existed; the reference engine computes the same
        maths, yet rounds differently and runs longer, so its runs get keys of their own.
        Fields added after the first release (the options beyond the assignment) are left out
        likewise while at their defaults: a config that does not use them keeps its old key.
        """
        data = self.to_dict()
        if data["engine"] == DEFAULTS["engine"]:
            del data["engine"]
        for name, default in _LATER_FIELDS.items():
            if data[name] == default:
                del data[name]
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


def parse_rates(value: Any) -> list[float]:
    """Dropout rates: ``0.2`` or ``"0.2"`` -> [0.2]; ``"0.2,0.3"`` -> [0.2, 0.3]; each in [0, 1)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = [] if text.lower() in ("", "none") else [float(p) for p in text.split(",")]
        except ValueError:
            raise ConfigError(f"dropout must be a rate like 0.2 or rates like 0.2,0.3, "
                              f"got {text!r}") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [float(value)] if value else []
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"dropout must be a rate or a list of rates, got {value!r}")
    rates = []
    for rate in value:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ConfigError(f"dropout rates must lie in [0, 1), got {rate!r}")
        rates.append(float(rate))
    return rates

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
    """Read a TOML file, with a clear error naming the file when it is not valid TOML.

    At most :data:`MAX_TOML_BYTES` are read (a config or grid is a few hundred bytes; a device
    such as /dev/zero would otherwise be read forever).
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_TOML_BYTES + 1)
        if len(raw) > MAX_TOML_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_TOML_BYTES:,} bytes; expected a small "
                              "TOML file")
        return tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a TOML file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text, so not a TOML file (byte "
                          f"0x{error.object[error.start]:02x} at position {error.start})") \
            from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from None


def config_from_toml(path: str | os.PathLike, base: TrainConfig | None = None) -> TrainConfig:
    """A config from a TOML file whose top level (or ``[train]`` table) holds config fields."""
    data = load_toml(path)
    data = data.get("train", data)
    try:
        return TrainConfig.from_dict(data, base)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def _coerce(name: str, value: Any) -> Any:
    if name == "dropout":
        return parse_rates(value)
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
        raise ConfigError(f"{what}{name} must be a finite number, got {value!r}")
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


#: fields added after the first release, with their defaults (see TrainConfig.key)
_LATER_FIELDS = {name: getattr(TrainConfig(), name) for name in (
    "warmup_epochs", "dropout", "label_smoothing", "max_norm", "augment_rotation",
    "augment_scale", "augment_shear", "augment_shift", "elastic_alpha", "elastic_sigma",
    "deskew", "split_seed")}

PRESETS: dict[str, TrainConfig] = {
    # The assignment: 784-784-10, tanh everywhere, ±1 targets, ½‖y − t‖², SGD η = 0.01,
    # per-sample updates, Gaussian init of variance 2/fan-in, no bias.
    "assignment": TrainConfig(),
    # The lab report's final network: 784-1024-1024-10 swish, softmax cross-entropy, Adam.
    "report": TrainConfig(
        hidden=[1024, 1024], activation="swish", output_activation="softmax", loss="ce",
        optimizer="adam", lr=0.001, batch_size=32, epochs=10, init="glorot", bias=True,
    ),
    # The most accurate MLP digitlab offers that still trains on the embedded sample in a few
    # minutes on 2 cores: the report's layers with ReLU, one-cycle Adam, dropout and random
    # affine distortions of every training digit (benchmarks/bench_accuracy.py measures it).
    "best": TrainConfig(
        hidden=[1024, 1024], activation="relu", output_activation="softmax", loss="ce",
        optimizer="adam", lr=0.001, schedule="onecycle", batch_size=64, epochs=40, init="he",
        bias=True, dropout=[0.2], augment_rotation=12.0, augment_scale=0.12,
        augment_shear=0.15, augment_shift=2.5,
    ),
}


def preset(name: str) -> TrainConfig:
    """A copy of the preset called ``name``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], hidden=list(PRESETS[name].hidden))
