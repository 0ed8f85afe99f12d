"""The command line in the reader's language: help translated when it is shown.

A command's docstring and its options' ``help=`` are written in English and are messages of the
``cli`` catalog (:mod:`digitlab.i18n`): options mark theirs with ``N_("...")``, and
``scripts/catalogs.py`` takes the docstrings of the functions decorated as click commands. They
are translated only when help is formatted, into the language of the environment
(``DIGITLAB_LANG``, then the locale), never when the module is imported — so ``digitlab
--help`` and ``DIGITLAB_LANG=sl digitlab --help`` differ with the same imports. A help text
without a translation is shown as written.

:class:`TranslatedHelp` does it for any click command class; :class:`TranslatedCommand` and
:class:`TranslatedGroup` are the two the commands use (a group's subcommands are translated
commands too). The messages the commands print go through :data:`_` the same way.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager

import click

from digitlab.i18n import domain

_cli = domain("cli")
_, ngettext = _cli.gettext, _cli.ngettext


def translated(text: str | None) -> str | None:
    """``text`` (a help text as written) in the active language; None and "" stay."""
    return _(inspect.cleandoc(text)) if text else text


class TranslatedHelp:
    """Mixin for a click command: its help, short help and options' help are looked up in the
    ``cli`` catalog at the moment help is formatted."""

    @contextmanager
    def _translated(self, ctx: click.Context) -> Iterator[None]:
        params = [p for p in self.get_params(ctx) if getattr(p, "help", None)]
        saved = self.help, self.short_help, [p.help for p in params]
        self.help, self.short_help = translated(self.help), translated(self.short_help)
        for param in params:
            param.help = translated(param.help)
        try:
            yield
        finally:
            self.help, self.short_help = saved[0], saved[1]
            for param, text in zip(params, saved[2], strict=True):
                param.help = text

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with self._translated(ctx):
            super().format_help(ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        saved = self.help, self.short_help
        self.help, self.short_help = translated(self.help), translated(self.short_help)
        try:
            return super().get_short_help_str(limit)
        finally:
            self.help, self.short_help = saved


class TranslatedCommand(TranslatedHelp, click.Command):
    """A click command whose help is shown in the reader's language."""


class TranslatedGroup(TranslatedHelp, click.Group):
    """A click group whose help, and whose subcommands' help, is shown in the reader's
    language."""

    command_class = TranslatedCommand
