"""``digitlab train``: train a network from a preset, a TOML file and flags; checkpoint every epoch.

Where each setting comes from, later winning: the preset (``--preset``, default ``assignment``),
then the TOML file (``--config``), then the flags (``--lr 0.05``...). Every field of
:class:`~digitlab.config.TrainConfig` has a flag of the same name, generated from the field's
declaration (:mod:`digitlab.options`).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from digitlab.api import train
from digitlab.calibration import calibration_summary
from digitlab.checks import not_a_number
from digitlab.cli.common import dataset_options, explicit_dataset, output_options
from digitlab.cli.evaluate import format_evaluation
from digitlab.cli.help import TranslatedCommand, _, ngettext, translated, with_values
from digitlab.config import PRESETS, TrainConfig, parse_hidden, parse_rates
from digitlab.data import load_run_dataset
from digitlab.errors import ConfigError, Message, RunExistsError
from digitlab.i18n import N_, number, percent, significant
from digitlab.model_summary import summary_table
from digitlab.modelio import MODEL_FILE
from digitlab.nn.engines import for_config
from digitlab.options import GROUPS, flag_name, option_of, options_by_group, shown_value
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
            raise not_a_number(flag, value, self.kind) from None
        if not math.isfinite(number):  # "inf", "nan", or "1e400", which overflows to inf
            raise not_a_number(flag, value, self.kind, finite=True)
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


# ------------------------------------------------------------------ the config's flags
# One flag per TrainConfig field, generated from the field's declaration in digitlab.config
# (help, group, allowed values); a new field needs nothing here. Options that are not config
# fields are declared on train_command, below this block.

FLOAT, INT = _StrictNumber(float, "number"), _StrictNumber(int, "integer")

#: click type of a field's flag, by the field's annotation (bools are --name/--no-name flags)
FLAG_TYPES: dict[str, Any] = {"int": INT, "float": FLOAT, "str": str,
                              "list[int]": _Hidden(), "list[float]": _Rates()}


def config_fields_with_flags() -> list[dataclasses.Field]:
    """The TrainConfig fields that get a generated flag, ordered by group."""
    fields = [f for f in dataclasses.fields(TrainConfig) if option_of(f).flag]
    return [f for members in options_by_group(tuple(fields)).values() for f in members]


#: field name -> group of each generated flag (for the grouped --help)
FLAG_GROUPS = {f.name: option_of(f).group for f in config_fields_with_flags()}


def _preset_default(field: str) -> str:
    """The text shown as a flag's default: each preset's value."""
    values = {name: shown_value(getattr(c, field)) for name, c in PRESETS.items()}
    if len(set(values.values())) == 1:
        return with_values(N_("{value} in every preset"), value=next(iter(values.values())))
    return with_values(N_("from the preset: {values}"), values=", ".join(
        f"{v} ({name})" for name, v in values.items()))


def field_flag(field: dataclasses.Field) -> Callable[[Callable], Callable]:
    """The click option of one config field (default None: not given, the preset's stands)."""
    spec, flag = option_of(field), flag_name(field.name)
    shown = _preset_default(field.name)
    if spec.kind == "bool":
        return click.option(f"{flag}/--no-{flag[2:]}", field.name, default=None,
                            show_default=shown, help=spec.help)
    metavar = "[" + "|".join(spec.choices) + "]" if spec.choices else None
    return click.option(flag, field.name, type=FLAG_TYPES[field.type], default=None,
                        metavar=metavar, show_default=shown, help=spec.help)


def config_overrides(func: Callable) -> Callable:
    """Add one flag per :class:`TrainConfig` field (see :func:`field_flag`)."""
    for field in reversed(config_fields_with_flags()):
        func = field_flag(field)(func)
    return func


class GroupedHelpCommand(TranslatedCommand):
    """A command whose --help shows the config's flags in sections, one per group."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                group = FLAG_GROUPS.get(param.name or "")
                title = translated(GROUPS[group]) if group else translated(N_("Options"))
                sections.setdefault(title, []).append(record)
        for title, records in sections.items():
            with formatter.section(title):
                formatter.write_dl(records)

# ------------------------------------------------------------------ end of the config's flags


@click.command(name="train", cls=GroupedHelpCommand)
@click.option("--preset", "preset_name", default=None, show_default="assignment",
              help=with_values(N_("Starting configuration: {presets}."),
                               presets=", ".join(PRESETS)))
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              show_default=N_("none"),
              help=N_("TOML file of config fields (top level or a [train] table); overrides the "
                   "preset."))
@dataset_options
@config_overrides
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="RUN_DIR", show_default=N_("required unless --resume RUN_DIR"),
              help=N_("Run folder: model.npz, config.json, history, curves.png, evaluation.json."))
@click.option("--resume", "resume", is_flag=False, flag_value="", default=None,
              metavar="[RUN_DIR]", show_default=N_("off"),
              help=N_("Continue the run in RUN_DIR (or in --out) from its last completed epoch; "
                   "only --epochs (and --engine) may change."))
@click.option("--overwrite", is_flag=True, default=False, show_default=True,
              help=N_("Start afresh even if RUN_DIR already holds a run."))
@click.option("--explain-engine", "explain_engine", is_flag=True, default=False,
              help=N_("Print the engine, kernels and threads the run would train on, and why, in "
                   "one line; train nothing."))
@click.option("--log-to", "log_to", multiple=True, metavar="tensorboard|mlflow",
              show_default=N_("none"),
              help=N_("Also log the run to TensorBoard event files (RUN_DIR/tensorboard) or "
                      "MLflow (RUN_DIR/mlruns, or --mlflow-uri); repeat it or give both "
                      "comma-separated. Needs: pip install 'digitlab[tracking]'."))
@click.option("--mlflow-uri", "mlflow_uri", default=None, metavar="URI",
              show_default="RUN_DIR/mlruns",
              help=N_("MLflow tracking URI for --log-to mlflow (a folder, file:, http(s)://, "
                      "sqlite:///...)."))
@output_options(N_("No summary, progress bar or per-epoch lines; only the final result."))
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
    out: Path | None, resume: str | None, overwrite: bool, quiet: bool, progress: bool,
    log_to: tuple[str, ...], mlflow_uri: str | None, **overrides: Any,
) -> None:
    """``digitlab train --explain-engine``: the engine choice for the config the same flags
    would train (:func:`digitlab.nn.engines.for_config`), in one line."""
    from digitlab.api import run_config

    resuming = resume is not None
    config = run_config(config_file, preset=preset_name,
                        out=_run_dir(out, resume)[0] if resuming else out, resume=resuming,
                        dataset=explicit_dataset(dataset),
                        **{field: value for field, value in overrides.items() if value is not None})
    click.echo(_("engine: {choice}").format(choice=for_config(config).translated()))


def _train_into(
    preset_name: str | None, config_file: str | None, dataset: str | None, data_dir: Path | None,
    out: Path | None, resume: str | None, overwrite: bool, quiet: bool, progress: bool,
    log_to: tuple[str, ...], mlflow_uri: str | None, **overrides: Any,
) -> None:
    """The body of ``digitlab train``: one call of :func:`digitlab.api.train`, printed."""
    run_dir, resuming = _run_dir(out, resume)
    echo = (lambda *args, **kwargs: None) if quiet else click.echo
    epochs_run: list[int] = []
    shown: list[Callable[[dict[str, Any]], None]] = []

    def on_start(config: TrainConfig, data) -> None:
        echo(_describe_run(config, data, run_dir, resuming))
        echo(_("engine: {choice}").format(choice=for_config(config).translated()))
        echo(summary_table(build_network(config)))
        shown.append(_print_epoch(config))

    def on_epoch_end(record: dict[str, Any]) -> None:
        epochs_run.append(record["epoch"])
        if not quiet:
            shown[0](record)

    try:
        result = train(config_file, preset=preset_name, out=run_dir,
                       dataset=explicit_dataset(dataset),  # None unless given: the config's
                       data_dir=data_dir, resume=resuming, overwrite=overwrite,
                       progress=progress and not quiet, on_epoch_end=on_epoch_end,
                       on_start=on_start,
                       load_data=load_run_dataset, log_to=log_to, mlflow_uri=mlflow_uri,
                       **{field: value for field, value in overrides.items() if value is not None})
    except RunExistsError as error:
        raise ConfigError(error.advice("--resume", "--overwrite", "--out")) from None
    if result.status == "interrupted":
        _report_interrupt(result, run_dir, data_dir)
        sys.exit(130)
    if resuming and not epochs_run:
        done = len(result.history.epochs)
        click.echo(ngettext("The run already has {n} epoch; give a larger --epochs to train it "
                            "further.", "The run already has {n} epochs; give a larger --epochs "
                            "to train it further.", done).format(n=done))
    _finish(result, run_dir, quiet)


def _run_dir(out: Path | None, resume: str | None) -> tuple[Path, bool]:
    """The run folder and whether the run is resumed, from --out and --resume [RUN_DIR]."""
    if resume:  # --resume RUN_DIR
        if out is not None and Path(out).resolve() != Path(resume).resolve():
            raise ConfigError(Message("--resume {resume} and --out {out} name different run "
                                      "folders", resume=resume, out=out))
        return Path(resume), True
    if out is None:
        raise ConfigError(Message("give the run folder with --out RUN_DIR (or --resume "
                                  "RUN_DIR)"))
    return Path(out), resume is not None


def _describe_run(config: TrainConfig, data, run_dir: Path, resuming: bool) -> str:
    sizes = "-".join(str(n) for n in config.sizes)
    optimizer = config.optimizer + (f" momentum {config.momentum}" if config.momentum else "")
    n_train = len(data.train.labels)
    if config.max_train_samples:
        n_train = min(n_train, config.max_train_samples)
    settings = (f"{config.activation}/{config.output_activation}, {config.loss}, {optimizer}, "
                + _("lr {lr}, batch {batch}, {epochs} epochs, seed {seed}").format(
                    lr=significant(config.lr, 6), batch=config.batch_size, epochs=config.epochs,
                    seed=config.seed))
    text = (_("Resuming {sizes} ({settings}) on {dataset}: {train} training / {test} test "
              "digits -> {run_dir}") if resuming else
            _("Training {sizes} ({settings}) on {dataset}: {train} training / {test} test "
              "digits -> {run_dir}"))
    return text.format(sizes=sizes, settings=settings, dataset=data.name, train=number(n_train),
                       test=number(len(data.test.labels)), run_dir=run_dir)


def _print_epoch(config: TrainConfig) -> Callable[[dict[str, Any]], None]:
    width = len(str(config.epochs))

    def show(record: dict[str, Any]) -> None:
        parts = [_("epoch {epoch}/{epochs}").format(epoch=f"{record['epoch']:>{width}}",
                                                     epochs=config.epochs)]
        for split, label in (("train", _("train E {loss} acc {accuracy}")),
                             ("validation", _("validation E {loss} acc {accuracy}")),
                             ("test", _("test E {loss} acc {accuracy}"))):
            if record.get(f"{split}_loss") is not None:
                parts.append(label.format(loss=number(record[f"{split}_loss"], 4),
                                          accuracy=percent(record[f"{split}_accuracy"], 2)))
        parts.append(f"{number(record['seconds'], 1)} s")
        click.echo("  ".join(parts))

    return show


def _report_interrupt(result: TrainResult, run_dir: Path, data_dir: Path | None) -> None:
    done = len(result.history.epochs)
    if done == 0:
        click.echo(_("Interrupted in epoch 1: no epoch was completed, nothing was saved."),
                   err=True)
        return
    data = f" --data {data_dir}" if data_dir is not None else ""
    click.echo(
        _("Interrupted in epoch {epoch}: the last completed epoch ({done}) is kept in {file}. "
          "Continue with: {command}").format(
            epoch=done + 1, done=done, file=run_dir / MODEL_FILE,
            command=f"digitlab train --resume {run_dir}{data}"),
        err=True,
    )


def _finish(result: TrainResult, run_dir: Path, quiet: bool) -> None:
    """Print the test result (train() wrote curves.png and evaluation.json)."""
    history = result.history
    if result.status == "early_stopping":
        best = history.final.get("restored_best_epoch")
        click.echo(_("Stopped early after epoch {epoch}; kept the weights of epoch {best}.")
                   .format(epoch=history.final.get("epoch"), best=best))
    evaluation = result.evaluation
    if evaluation is None:
        click.echo(_("No test split: {file} not written. Model saved in {run_dir}.").format(
            file=EVALUATION_FILE, run_dir=run_dir))
        return
    if not quiet:
        click.echo(format_evaluation(evaluation, details=False))
    epochs = len(history.epochs)
    click.echo(ngettext("Test accuracy {accuracy} on {n} digits after {epochs} epoch; saved in "
                        "{run_dir}", "Test accuracy {accuracy} on {n} digits after {epochs} "
                        "epochs; saved in {run_dir}", epochs).format(
        accuracy=percent(evaluation.accuracy, 2), n=number(evaluation.n), epochs=epochs,
        run_dir=run_dir))
    if result.calibration is not None:
        click.echo(_("Test ECE {ece}; ").format(ece=percent(evaluation.ece, 2))
                   + calibration_summary(result.calibration))
