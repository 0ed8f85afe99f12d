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

**Help with values.** A help text that shows values known only in the code (a default, the
presets' names) is written as a template, its values apart: ``help=with_values(N_("Step budget.
[default: {steps}]"), steps=400)`` is the English text with the values filled in, and it is the
template that is looked up in the catalog when help is shown, the values filled in afterwards,
verbatim (as they are typed on the command line). The same goes for a ``show_default=`` text.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from digitlab.i18n import domain

_cli = domain("cli")
_, ngettext = _cli.gettext, _cli.ngettext


#: the help texts made by :func:`with_values`: English text -> (template, values). click keeps
#: a help text as a plain ``str`` (it cleans it), so the template is found again by the text.
_FILLED: dict[str, tuple[str, dict[str, Any]]] = {}


def with_values(template: str, /, **values: Any) -> str:
    """``template.format(**values)``, a help text whose ``template`` (marked ``N_``) is
    translated when help is shown and then filled with the same ``values``."""
    text = template.format(**values)
    _FILLED[inspect.cleandoc(text)] = (template, values)
    return text


def translated(text: str | None) -> str | None:
    """``text`` (a help text as written) in the active language; None and "" stay."""
    if not text:
        return text
    text = inspect.cleandoc(text)
    if text in _FILLED:
        template, values = _FILLED[text]
        return _(inspect.cleandoc(template)).format(**values)
    return _(text)


class TranslatedHelp:
    """Mixin for a click command: its help, short help, options' help and options' default
    texts (``show_default="..."``) are looked up in the ``cli`` catalog at the moment help is
    formatted."""

    @contextmanager
    def _translated(self, ctx: click.Context) -> Iterator[None]:
        params = self.get_params(ctx)
        saved = self.help, self.short_help, [(getattr(p, "help", None),
                                              getattr(p, "show_default", None)) for p in params]
        self.help, self.short_help = translated(self.help), translated(self.short_help)
        for param, (help_text, default_text) in zip(params, saved[2], strict=True):
            if help_text:
                param.help = translated(help_text)
            if isinstance(default_text, str):
                param.show_default = translated(default_text)
        try:
            yield
        finally:
            self.help, self.short_help = saved[0], saved[1]
            for param, (help_text, default_text) in zip(params, saved[2], strict=True):
                if help_text:
                    param.help = help_text
                if isinstance(default_text, str):
                    param.show_default = default_text

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
