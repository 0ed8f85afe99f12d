"""Options shared by the commands that read a dataset.

Usage in a command module::

    @click.command()
    @dataset_options
    def train(dataset, data_dir, ...):
        ds = load_dataset_from_options(dataset, data_dir, seed=seed)

``dataset`` defaults to ``"mnist-sample"``; it is None only when ``--data DIR`` is given without
``--dataset`` (the folder then takes its own name). ``ds.name`` is always the resolved name.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from digitlab.api import dataset_for_model  # noqa: F401 (the commands' model data)
from digitlab.data import DATASET_NAMES, DEFAULT_DATASET, Dataset, load_dataset
from digitlab.i18n import N_

F = TypeVar("F", bound=Callable[..., Any])

QUIET_HELP = N_("Only the result and errors: no progress bars or running messages.")


def output_options(quiet_help: str = QUIET_HELP) -> Callable[[F], F]:
    """``--progress/--no-progress`` and ``-q/--quiet``: the same two flags on every command
    that runs long (train, report, analyze, dream, sweep); quiet implies no progress."""

    def decorate(command: F) -> F:
        command = click.option("--quiet", "-q", is_flag=True, default=False,
                               help=quiet_help)(command)
        return click.option("--progress/--no-progress", default=True, show_default=True,
                            help=N_("Show progress bars."))(command)

    return decorate

DATA_DIR_HELP = N_(
    "Folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
    "and t10k-labels-idx1-ubyte (each raw or .gz); overrides where the dataset is looked for."
)


def dataset_options(func: F) -> F:
    """Add ``--dataset NAME`` and ``--data DIR`` to a click command.

    The command receives keyword arguments ``dataset`` and ``data_dir``; pass them to
    :func:`load_dataset_from_options`. ``dataset`` is ``"mnist-sample"`` when neither option is
    given, and None when only ``--data`` is (the folder is then named after itself, not after
    the default dataset). ``data_dir`` is a pathlib.Path or None.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        given = ctx.get_parameter_source("dataset") not in (
            ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)
        if kwargs.get("data_dir") is not None and not given:
            kwargs["dataset"] = None
        return func(*args, **kwargs)

    with_data = click.option(
        "--data", "data_dir", default=None, metavar="DIR",
        type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path),
        help=DATA_DIR_HELP,
    )(wrapper)
    return click.option(
        "--dataset", type=click.Choice(DATASET_NAMES), default=DEFAULT_DATASET, show_default=True,
        help=N_("Dataset to use: mnist-sample (shipped), mnist or fashion-mnist (after "
                "`digitlab data download NAME`, or from --data)."),
    )(with_data)


def cache_dir_option(func: F) -> F:
    """Add ``--cache-dir DIR`` (kwarg ``cache_dir``), the folder downloads are kept in."""
    return click.option(
        "--cache-dir", default=None, metavar="DIR",
        type=click.Path(file_okay=False, path_type=Path),
        help=N_("Cache folder for downloaded datasets.  [default: $DIGITLAB_CACHE, else the "
                "user cache folder]"),
    )(func)


def load_dataset_from_options(
    dataset: str | None, data_dir: str | os.PathLike | None, **kwargs: Any
) -> Dataset:
    """Call :func:`digitlab.data.load_dataset` with the values of :func:`dataset_options`.

    Extra keyword arguments (``seed``, ``validation_fraction``, ``require``, ``cache_dir``...)
    are passed on.
    """
    return load_dataset(dataset, data_dir, **kwargs)


def explicit_dataset(dataset: str | None) -> str | None:
    """``--dataset`` if the user gave it, None when it only holds its default.

    The commands here fall back on the dataset saved with a model or config, so a default
    ``--dataset`` must not override it.
    """
    source = click.get_current_context().get_parameter_source("dataset")
    return None if source in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP) \
        else dataset


def language_option(func: F) -> F:
    """``--lang en|sl``: the language of what the command writes for people (default: the
    ``DIGITLAB_LANG`` variable, then the locale, then English; :mod:`digitlab.i18n`)."""
    from digitlab.i18n import LANGUAGES

    return click.option(
        "--lang", "lang", type=click.Choice(LANGUAGES, case_sensitive=False), default=None,
        help=N_("Language of the text: en or sl (default: DIGITLAB_LANG, then the locale, "
                "then English)."))(func)
