"""click's own words ("Usage:", "Options", "Error: ...", "Missing option") in the reader's language.

click marks its messages with the standard library's ``gettext.gettext`` and ``ngettext``
(each of its modules imports them as ``_`` and ``ngettext``), so they are translated by the
process-wide gettext domain ``messages``, which digitlab leaves alone. Instead, the messages
a person meets on digitlab's command line are listed here — :data:`MESSAGES` (marked ``N_`` for
extraction) and :data:`PLURAL_MESSAGES` (singular, plural; ``scripts/catalogs.py`` reads them
as declared texts) — and translated in digitlab's ``cli`` catalog, written exactly as click
writes them (its placeholders included).

:func:`click_speaks` puts them to work for one run of the command line: while the block is open,
the ``_`` and ``ngettext`` of click's modules are replaced by functions that look a message up in
the ``cli`` catalog in the block's language (a :mod:`contextvars` variable, so another thread
that uses click meanwhile reads click's messages as the stdlib gettext gives them), and the
originals are put back when the last open block closes. A message of click not listed here stays
as click writes it.

``click.Path`` names the kind of path (file, directory, path) when an option is declared, in
whatever language click spoke then, and puts it, title-cased, into its messages ("File 'x' does
not exist."). Its messages (:data:`PATH_MESSAGES`) are therefore translated as templates whose
``{name}`` is translated too when they are filled in (:data:`PATH_NAMES`).
"""

from __future__ import annotations

import contextvars
import gettext as _stdlib
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from digitlab.i18n import N_, SOURCE_LANGUAGE, domain

_cli = domain("cli")
#: click's messages without a count, as click writes them (click 8.1 to 8.5).
MESSAGES = (
    N_("Usage:"), N_("Options"), N_("Commands"), N_("Positional arguments"),
    N_("Show this message and exit."), N_("Show the version and exit."),
    N_("%(prog)s, version %(version)s"), N_("required"), N_("default: {default}"),
    N_("env var: {var}"), N_("(dynamic)"), N_("deprecated"),
    N_("Error: {message}"), N_("Try '{command} {option}' for help."),
    N_("Invalid value: {message}"), N_("Invalid value for {param_hint}: {message}"),
    N_("Missing argument"), N_("Missing option"), N_("Missing parameter"),
    N_("Missing {param_type}"), N_("Missing parameter: {param_name}"), N_("Missing command."),
    N_("No such option {name!r}."), N_("No such command {name!r}."),
    N_("No such option: {name}"), N_("No such command: {name}"), N_("unknown error"),
    N_("Could not open file {filename!r}: {message}"),
    N_("Option {name!r} does not take a value."), N_("Argument {name!r} takes {nargs} values."),
    N_("Aborted!"), N_("Do you want to continue?"), N_("Repeat for confirmation"),
    N_("Error: The two entered values do not match."), N_("Error: invalid input"),
    N_("Choose from:\n\t{choices}"), N_("{value!r} is not a valid {number_type}."),
    N_("{value} is not in the range {range}."),
    N_("{value!r} is not a valid boolean. Recognized values: {states}"),
)
#: click.Path's messages: ``{name}`` is the kind of path, one of :data:`PATH_NAMES`.
PATH_MESSAGES = (
    N_("{name} {filename!r} does not exist."), N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."), N_("{name} {filename!r} is not readable."),
    N_("{name} {filename!r} is not writable."), N_("{name} {filename!r} is not executable."),
)
#: the kinds of path click.Path names, as its messages write them (title-cased)
PATH_NAMES = (N_("File"), N_("Directory"), N_("Path"))
#: click's messages with a count: (singular, plural), chosen by ``ngettext``.
PLURAL_MESSAGES = (
    ("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"),
    ("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"),
    ("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."),
    ("{value!r} is not {choice}.", "{value!r} is not one of {choices}."),
    ("{value!r} does not match the format {format}.",
     "{value!r} does not match the formats {formats}."),
)

_language: contextvars.ContextVar[str | None] = contextvars.ContextVar("digitlab_click_language",
                                                                        default=None)
_lock = threading.Lock()
_open_blocks = 0
_replaced: list[tuple[object, str, object]] = []  # (module, name, original)


class _PathTemplate(str):
    """A translated message of click.Path: filling it in translates the kind of path too."""

    lang: str

    def format(self, *args, **kwargs) -> str:
        if isinstance(kwargs.get("name"), str):
            kwargs["name"] = _cli.gettext(kwargs["name"], self.lang)
        return super().format(*args, **kwargs)


def click_gettext(message: str) -> str:
    """click's ``_``: the ``cli`` catalog in the block's language, else the stdlib gettext."""
    lang = _language.get()
    if not lang:
        return _stdlib.gettext(message)
    if message in PATH_MESSAGES:
        template = _PathTemplate(_cli.gettext(message, lang))
        template.lang = lang
        return template
    return _cli.gettext(message, lang)


def click_ngettext(singular: str, plural: str, count: int) -> str:
    """click's ``ngettext``, the same way (Slovenian chooses among four forms)."""
    lang = _language.get()
    return (_cli.ngettext(singular, plural, count, lang) if lang
            else _stdlib.ngettext(singular, plural, count))


def _install() -> None:
    """Give every loaded click module :func:`click_gettext` and :func:`click_ngettext`."""
    for name, module in list(sys.modules.items()):
        if name != "click" and not name.startswith("click."):
            continue
        for attribute, original, replacement in (("_", _stdlib.gettext, click_gettext),
                                                 ("ngettext", _stdlib.ngettext, click_ngettext)):
            if getattr(module, attribute, None) is original:
                setattr(module, attribute, replacement)
                _replaced.append((module, attribute, original))


def _restore() -> None:
    while _replaced:
        module, attribute, original = _replaced.pop()
        setattr(module, attribute, original)


@contextmanager
def click_speaks(lang: str) -> Iterator[None]:
    """click's messages in ``lang`` inside the block, in this thread or task (English: as is)."""
    global _open_blocks
    if lang == SOURCE_LANGUAGE:
        yield
        return
    token = _language.set(lang)
    with _lock:
        if _open_blocks == 0:
            _install()
        _open_blocks += 1
    try:
        yield
    finally:
        with _lock:
            _open_blocks -= 1
            if _open_blocks == 0:
                _restore()
        _language.reset(token)
