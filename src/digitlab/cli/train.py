"""``digitlab train``: train a network from a preset, a TOML file and flags; checkpoint every epoch.

Where each setting comes from, later winning: the preset (``--preset``, default ``assignment``),
then the TOML file (``--config``), then the flags (``--lr 0.05``...). Every field of
:class:`~digitlab.config.TrainConfig` has a flag of the same name.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from digitlab.api import train
from digitlab.cli.common import dataset_options, explicit_dataset
from digitlab.cli.evaluate import format_evaluation
from digitlab.cli.summary import summary_table
from digitlab.config import PRESETS, TrainConfig, parse_hidden, parse_rates
from digitlab.data import load_run_dataset
from digitlab.errors import ConfigError
from digitlab.modelio import MODEL_FILE
from digitlab.nn.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from digitlab.nn.engine_names import ENGINES
from digitlab.nn.engines import for_config
from digitlab.nn.init import INITS
from digitlab.nn.schedules import SCHEDULES
from digitlab.training import EVALUATION_FILE, TrainResult, build_network


class _StrictNumber(click.ParamType):
    """A number flag whose bad value fails with a one-line :class:`ConfigError`."""

    def __init__(self, kind: type, name: str):
        self.kind, self.name = kind, name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, self.kind) and not isinstance(value, bool):
            return value
        flag = param.opts[0] if param is not None else "value"
        try:
            number = self.kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{flag} must be {'an' if self.name[0] in 'aeiou' else 'a'} "
                              f"{self.name}, got {value!r}") from None
        if not math.isfinite(number):  # "inf", "nan", or "1e400", which overflows to inf
            raise ConfigError(f"{flag} must be a finite {self.name}, got {value!r}")
        return number


class _Hidden(click.ParamType):
    """``--hidden 256,128`` -> [256, 128] (``none`` for no hidden layer)."""

    name = "WIDTHS"

    def convert(self, value, param, ctx):
        return value if isinstance(value, list) else parse_hidden(str(value))


class _Rates(click.ParamType):
    """``--dropout 0.2`` or ``--dropout 0.2,0.3`` -> [0.2] or [0.2, 0.3]."""

    name = "RATES"

    def convert(self, value, param, ctx):
        return value if isinstance(value, list) else parse_rates(str(value))


FLOAT, INT = _StrictNumber(float, "number"), _StrictNumber(int, "integer")

#: (config field, click type or "flag", help). Each becomes --field-name (and --no-field-name).
OVERRIDES: list[tuple[str, Any, str]] = [
    ("hidden", _Hidden(), "Hidden layer widths, comma-separated, e.g. 256,128 ('none': none)."),
    ("activation", str, f"Activation f of the hidden layers: {', '.join(HIDDEN_ACTIVATIONS)}."),
    ("output_activation", str,
     f"Activation of the output layer: {', '.join(ACTIVATIONS)} (softmax for --loss ce)."),
    ("loss", str, "Loss E: mse (½‖y − t‖², targets ±1) or ce (softmax cross-entropy)."),
    ("optimizer", str, "sgd or adam."),
    ("lr", FLOAT, "Learning rate η."),
    ("momentum", FLOAT, "SGD momentum μ in [0, 1) (0: plain SGD)."),
    ("nesterov", "flag", "Nesterov momentum (sgd with --momentum > 0)."),
    ("weight_decay", FLOAT, "L2 weight decay λ."),
    ("schedule", str, f"Learning-rate schedule: {', '.join(SCHEDULES)}."),
    ("batch_size", INT, "Samples per update (1: the assignment's per-sample update)."),
    ("epochs", INT, "Passes over the training data (with --resume: the new total)."),
    ("init", str, f"Initial weights: {', '.join(INITS)} (gaussian: variance 2/fan-in)."),
    ("bias", "flag", "Give every layer a bias b^l (the assignment has none)."),
    ("dtype", str, "Floating-point type: float32 or float64."),
    ("seed", INT, "Seed of the data split, the initial weights and the sample order."),
    ("test_fraction", FLOAT, "Share held out for testing when the dataset has no test set."),
    ("validation_fraction", FLOAT, "Share of the training data held out for validation."),
    ("early_stopping", INT,
     "Stop after this many epochs without a lower validation E and keep the best (0: off)."),
    ("trace_every", INT, "Record the running E and accuracy every this many samples."),
    ("max_train_samples", INT, "Train on the first N training samples only (0: all)."),
    ("engine", click.Choice(ENGINES), "fused (fast) or reference (forward, backward and "
     "optimizer step as written; the same maths, slower)."),
    ("warmup_epochs", FLOAT,
     "Warm-up of --schedule warmup/onecycle in epochs (0: 1 epoch / 30 % of the epochs)."),
    ("dropout", _Rates(), "Dropout rate of the hidden layers: one for all, or one per layer "
                          "(0.2 or 0.2,0.3); off at evaluation."),
    ("label_smoothing", FLOAT, "Label smoothing ε of the ce loss (0: off)."),
    ("max_norm", FLOAT, "Bound on each unit's incoming weight norm (0: off)."),
    ("augment_rotation", FLOAT, "Augmentation: random rotation, ± degrees (0: off)."),
    ("augment_scale", FLOAT, "Augmentation: random scaling, ± this share (0.1: ±10 %)."),
    ("augment_shear", FLOAT, "Augmentation: random horizontal shear, ± this factor."),
    ("augment_shift", FLOAT, "Augmentation: random translation, ± pixels."),
    ("elastic_alpha", FLOAT, "Augmentation: elastic distortion, largest displacement in pixels."),
    ("elastic_sigma", FLOAT, "Augmentation: elastic distortion, smoothing width σ in pixels."),
    ("deskew", "flag", "Straighten every digit by its second moments (training, evaluation "
                       "and predict alike)."),
    ("split_seed", INT, "Seed of the data split (-1: --seed); ensemble members share one."),
]


def _preset_default(field: str) -> str:
    """The text shown as a flag's default: each preset's value."""

    def shown(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(f"{n:g}" for n in value) or "none"
        if isinstance(value, bool):
            return "on" if value else "off"
        return str(value)

    values = {name: shown(getattr(c, field)) for name, c in PRESETS.items()}
    if len(set(values.values())) == 1:
        return f"{next(iter(values.values()))} in every preset"
    return "from the preset: " + ", ".join(f"{v} ({name})" for name, v in values.items())


def config_overrides(func: Callable) -> Callable:
    """Add one flag per :class:`TrainConfig` field (default None: not given)."""
    for field, kind, help_text in reversed(OVERRIDES):
        flag = field.replace("_", "-")
        default = _preset_default(field)
        if kind == "flag":
            func = click.option(f"--{flag}/--no-{flag}", field, default=None,
                                show_default=default, help=help_text)(func)
        else:
            func = click.option(f"--{flag}", field, type=kind, default=None,
                                show_default=default, help=help_text)(func)
    return func


@click.command(name="train")
@click.option("--preset", "preset_name", default=None, show_default="assignment",
              help=f"Starting configuration: {', '.join(PRESETS)}.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              show_default="none",
              help="TOML file of config fields (top level or a [train] table); overrides the "
                   "preset.")
@dataset_options
@config_overrides
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="RUN_DIR", show_default="required unless --resume RUN_DIR",
              help="Run folder: model.npz, config.json, history, curves.png, evaluation.json.")
@click.option("--resume", "resume", is_flag=False, flag_value="", default=None,
              metavar="[RUN_DIR]", show_default="off",
              help="Continue the run in RUN_DIR (or in --out) from its last completed epoch; "
                   "only --epochs (and --engine) may change.")
@click.option("--overwrite", is_flag=True, default=False, show_default=True,
              help="Start afresh even if RUN_DIR already holds a run.")
@click.option("--explain-engine", "explain_engine", is_flag=True, default=False,
              help="Print the engine, kernels and threads the run would train on, and why, in "
                   "one line; train nothing.")
@click.option("--quiet", "-q", is_flag=True, default=False, show_default=True,
              help="No summary, progress bar or per-epoch lines; only the final result.")
def train_command(out: Path | None, resume: str | None, explain_engine: bool,
                  **options: Any) -> None:
    """Train a network and save it, with its history and curves, into a run folder.

    Settings come from the preset, then the --config file, then the flags. Every completed
    epoch is checkpointed; Ctrl-C keeps the last completed epoch, which --resume continues.
    One process at a time writes a run folder: a second one is refused, naming the first.
    """
    if explain_engine:
        _explain_engine(out=out, resume=resume, **options)
        return
    _train_into(out=out, resume=resume, **options)


def _explain_engine(
    preset_name: str | None, config_file: str | None, dataset: str | None, data_dir: Path | None,
    out: Path | None, resume: str | None, overwrite: bool, quiet: bool, **overrides: Any,
) -> None:
    """``digitlab train --explain-engine``: the engine choice for the config the same flags
    would train (:func:`digitlab.nn.engines.for_config`), in one line."""
    from digitlab.api import run_config

    resuming = resume is not None
    config = run_config(config_file, preset=preset_name,
                        out=_run_dir(out, resume)[0] if resuming else out, resume=resuming,
                        dataset=explicit_dataset(dataset),
                        **{field: value for field, value in overrides.items() if value is not None})
    click.echo(f"engine: {for_config(config)}")


def _train_into(
    preset_name: str | None, config_file: str | None, dataset: str | None, data_dir: Path | None,
    out: Path | None, resume: str | None, overwrite: bool, quiet: bool, **overrides: Any,
) -> None:
    """The body of ``digitlab train``: one call of :func:`digitlab.api.train`, printed."""
    run_dir, resuming = _run_dir(out, resume)
    echo = (lambda *args, **kwargs: None) if quiet else click.echo
    epochs_run: list[int] = []
    shown: list[Callable[[dict[str, Any]], None]] = []

    def on_start(config: TrainConfig, data) -> None:
        echo(_describe_run(config, data, run_dir, resuming))
        echo(f"engine: {for_config(config)}")
        echo(summary_table(build_network(config)))
        shown.append(_print_epoch(config))

    def on_epoch_end(record: dict[str, Any]) -> None:
        epochs_run.append(record["epoch"])
        if not quiet:
            shown[0](record)

    result = train(config_file, preset=preset_name, out=run_dir,
                   dataset=explicit_dataset(dataset),  # None unless given: the config's stands
                   data_dir=data_dir, resume=resuming, overwrite=overwrite, progress=not quiet,
                   on_epoch_end=on_epoch_end, on_start=on_start, load_data=load_run_dataset,
                   **{field: value for field, value in overrides.items() if value is not None})
    if result.status == "interrupted":
        _report_interrupt(result, run_dir, data_dir)
        sys.exit(130)
    if resuming and not epochs_run:
        click.echo(f"The run already has {len(result.history.epochs)} epochs; give a larger "
                   "--epochs to train it further.")
    _finish(result, run_dir, quiet)


def _run_dir(out: Path | None, resume: str | None) -> tuple[Path, bool]:
    """The run folder and whether the run is resumed, from --out and --resume [RUN_DIR]."""
    if resume:  # --resume RUN_DIR
        if out is not None and Path(out).resolve() != Path(resume).resolve():
            raise ConfigError(f"--resume {resume} and --out {out} name different run folders")
        return Path(resume), True
    if out is None:
        raise ConfigError("give the run folder with --out RUN_DIR (or --resume RUN_DIR)")
    return Path(out), resume is not None


def _describe_run(config: TrainConfig, data, run_dir: Path, resuming: bool) -> str:
    sizes = "-".join(str(n) for n in config.sizes)
    optimizer = config.optimizer + (f" momentum {config.momentum}" if config.momentum else "")
    n_train = len(data.train.labels)
    if config.max_train_samples:
        n_train = min(n_train, config.max_train_samples)
    return (
        f"{'Resuming' if resuming else 'Training'} {sizes} "
        f"({config.activation}/{config.output_activation}, {config.loss}, {optimizer}, "
        f"lr {config.lr:g}, batch {config.batch_size}, {config.epochs} epochs, seed {config.seed})"
        f" on {data.name}: {n_train} training / {len(data.test.labels)} test digits -> {run_dir}"
    )


def _print_epoch(config: TrainConfig) -> Callable[[dict[str, Any]], None]:
    width = len(str(config.epochs))

    def show(record: dict[str, Any]) -> None:
        parts = [f"epoch {record['epoch']:>{width}}/{config.epochs}",
                 f"train E {record['train_loss']:.4f} acc {record['train_accuracy']:.2%}"]
        for split in ("validation", "test"):
            if record.get(f"{split}_loss") is not None:
                parts.append(f"{split} E {record[f'{split}_loss']:.4f} "
                             f"acc {record[f'{split}_accuracy']:.2%}")
        parts.append(f"{record['seconds']:.1f} s")
        click.echo("  ".join(parts))

    return show


def _report_interrupt(result: TrainResult, run_dir: Path, data_dir: Path | None) -> None:
    done = len(result.history.epochs)
    if done == 0:
        click.echo("Interrupted in epoch 1: no epoch was completed, nothing was saved.", err=True)
        return
    data = f" --data {data_dir}" if data_dir is not None else ""
    click.echo(
        f"Interrupted in epoch {done + 1}: the last completed epoch ({done}) is kept in "
        f"{run_dir / MODEL_FILE}. Continue with: digitlab train --resume {run_dir}{data}",
        err=True,
    )


def _finish(result: TrainResult, run_dir: Path, quiet: bool) -> None:
    """Print the test result (train() wrote curves.png and evaluation.json)."""
    history = result.history
    if result.status == "early_stopping":
        best = history.final.get("restored_best_epoch")
        click.echo(f"Stopped early after epoch {history.final.get('epoch')}; kept the weights of "
                   f"epoch {best}.")
    evaluation = result.evaluation
    if evaluation is None:
        click.echo(f"No test split: {EVALUATION_FILE} not written. Model saved in {run_dir}.")
        return
    if not quiet:
        click.echo(format_evaluation(evaluation))
    click.echo(f"Test accuracy {evaluation.accuracy:.2%} on {evaluation.n} digits after "
               f"{len(history.epochs)} epoch{'s' if len(history.epochs) != 1 else ''}; "
               f"saved in {run_dir}")
