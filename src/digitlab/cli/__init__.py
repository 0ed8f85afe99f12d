"""The ``digitlab`` command line: a thin layer over importable functions.

Each subcommand lives in its own module and is imported only when it is run, so that
``digitlab --help`` stays fast and one command's heavy imports (matplotlib, Ray) never slow down
another. Errors that a user can cause are :class:`digitlab.errors.DigitlabError`; they are printed
as one line, without a traceback, in the reader's language when their message is a
:class:`digitlab.errors.Message`.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from digitlab.cli.click_messages import click_speaks
from digitlab.cli.help import TranslatedGroup, translated
from digitlab.errors import ERRORS_DOMAIN, ConfigError, DigitlabError, Message
from digitlab.i18n import N_, domain, language, resolve_language

#: subcommand name -> "module:attribute" of its click command.
COMMANDS = {
    "data": "digitlab.cli.data:data",
    "report": "digitlab.cli.report:report",
    "train": "digitlab.cli.train:train_command",
    "evaluate": "digitlab.cli.evaluate:evaluate_command",
    "export": "digitlab.cli.export:export_command",
    "predict": "digitlab.cli.predict:predict",
    "summary": "digitlab.cli.summary:summary",
    "sweep": "digitlab.cli.sweep:sweep",
    "analyze": "digitlab.cli.analyze:analyze",
    "dream": "digitlab.cli.dream:dream_command",
    "serve": "digitlab.cli.serve:serve",
    "ensemble": "digitlab.cli.ensemble:ensemble_command",
    "finetune": "digitlab.cli.finetune:finetune_command",
    "runs": "digitlab.cli.runs:runs",
}


class LazyGroup(TranslatedGroup):
    """A click group that imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="digitlab")
def cli() -> None:
    """digitlab: train, study and look inside neural networks that read handwritten digits."""


class _NoticeHandler(logging.Handler):
    """The library's notices (:mod:`logging`, logger ``digitlab``, INFO and above) as
    ``digitlab: MESSAGE`` lines on the stderr of the moment, in the reader's language."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"digitlab: {notice_text(record)}", err=True)


def notice_text(record: logging.LogRecord, lang: str | None = None) -> str:
    """A notice in ``lang`` (None: the active language): its ``%``-template (marked ``N_``
    where it is logged) from the ``errors`` catalog, filled with its values, each a
    :class:`~digitlab.errors.Message` or a :class:`~digitlab.errors.DigitlabError` said in
    that language too. A notice logged as a Message, without values of its own, is that
    Message said in ``lang``. A notice the catalog does not hold is shown as logged."""
    if isinstance(record.msg, Message) and not record.args:
        return record.msg.translated(lang)
    template = domain(ERRORS_DOMAIN).gettext(str(record.msg), lang)
    if not record.args:  # logging fills in no values then: a "%" stays as written
        return template
    values = record.args
    if isinstance(values, tuple):
        values = tuple(value.translated(lang) if isinstance(value, (Message, DigitlabError))
                       else value for value in values)
    try:
        return template % values
    except (TypeError, ValueError, KeyError):  # a translation whose placeholders do not fit
        return record.getMessage()


def show_notices() -> None:
    """Let the library's notices through to stderr (once per process)."""
    logger = logging.getLogger("digitlab")
    if not any(isinstance(h, _NoticeHandler) for h in logger.handlers):
        logger.addHandler(_NoticeHandler())
        logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: runs the CLI, in the language of the environment
    (``DIGITLAB_LANG``, then the locale), and turns digitlab errors into one line."""
    try:
        lang = resolve_language()
    except ConfigError as error:  # a DIGITLAB_LANG digitlab does not speak: said in English
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    with language(lang), click_speaks(lang):  # click's own words ("Usage:") in it too
        _run(argv)


def _run(argv: list[str] | None) -> None:
    show_notices()
    try:
        cli.main(args=argv, prog_name="digitlab", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(translated(N_("Aborted.")), err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except ConfigError as error:
        _fail(error, 2)
    except DigitlabError as error:
        _fail(error, 1)
    except KeyboardInterrupt:
        click.echo(translated(N_("Interrupted.")), err=True)
        sys.exit(130)
    except OSError as error:  # a file the checks before the work could not foresee
        where = f"{error.filename}: " if error.filename else ""
        _fail(f"{where}{error.strerror or error}", 1)
    except MemoryError:
        _fail(translated(N_("out of memory (try a smaller network, batch or dataset)")), 1)


def _fail(message: object, code: int) -> None:
    """Print ``error: MESSAGE`` as one line, in the reader's language, and exit with ``code``."""
    if isinstance(message, DigitlabError):
        message = message.translated()
    text = " ".join(str(message).split())
    click.echo(translated(N_("error: {message}")).format(message=text), err=True)
    sys.exit(code)
