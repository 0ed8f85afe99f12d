"""Languages: which one a person reads, the words in it, and numbers and dates written its way.

digitlab speaks English (the source language: every message is written in English in the code)
and Slovenian, the language of the assignment it implements. What a person reads goes through a
gettext catalog; what a program reads (run files' JSON and CSV keys, the API, equations) does not.

**Which language.** :func:`resolve_language` picks, in this order: the language asked for
explicitly (``--lang``, ``dl.report(lang=...)``), the ``DIGITLAB_LANG`` variable, the locale of
the environment (the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set, as gettext reads
it: ``sl_SI.UTF-8`` means Slovenian), then English. An explicit language or ``DIGITLAB_LANG``
that digitlab does not speak is a :class:`~digitlab.errors.ConfigError`; a locale it does not
speak (``de_DE``) is simply English.

**The active language.** ``with language("sl"):`` makes Slovenian the language of everything
that runs inside the block in this thread or task (a :mod:`contextvars` variable, so parallel
requests of the web lab do not see each other's language). Outside any such block the active
language is :func:`resolve_language` of the environment.

**Domains.** Each part of digitlab that people read has its own catalog, a gettext *domain*:
``report`` (the HTML report, its findings and figures), ``cli`` (the command line's messages and
help), ``lab`` (the web lab) and ``errors`` (the messages of the errors a person meets on the
command line, :class:`digitlab.errors.Message`: English in the API, translated when the command
line shows them). A catalog lives in
``locale/<language>/LC_MESSAGES/<domain>.po`` beside this module, compiled to ``.mo`` (built by
``scripts/catalogs.py``, shipped in the wheel). A module asks for its domain once::

    from digitlab.i18n import domain

    _report = domain("report")
    _, ngettext, pgettext = _report.gettext, _report.ngettext, _report.pgettext

    _("Confusion matrix")                                  # gettext
    ngettext("{n} digit", "{n} digits", n).format(n=n)     # 1 / 2 / 3–4 / 5+ forms in sl
    pgettext("axis", "epoch")                              # msgctxt "axis"

The names ``_``, ``gettext``, ``ngettext``, ``pgettext``, ``npgettext`` and ``N_`` are what the
extraction (``scripts/catalogs.py``, Babel's default keywords) looks for, so keep them.

Messages defined before a language is known (module constants, figure captions) are marked with
:func:`N_` for extraction and translated where they are shown: ``_(CAPTION)``.

**Numbers and dates** are written by Babel for the active language: :func:`number`,
:func:`percent` (``0.987 -> "98.7 %"`` in English, ``"98,7 %"`` in Slovenian) and :func:`date`.
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import functools
import gettext as _gettext
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from digitlab.errors import ConfigError

#: the languages digitlab speaks; the first is the source language of every message.
LANGUAGES = ("en", "sl")
SOURCE_LANGUAGE = "en"
#: the catalogs, one per part of digitlab that people read.
DOMAINS = ("report", "cli", "lab", "errors")
#: where the catalogs live: ``LOCALE_DIR / <language> / "LC_MESSAGES" / <domain>.mo``.
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: the environment variables read, in order, before the locale.
LANGUAGE_VARIABLE = "DIGITLAB_LANG"
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")
#: each translated language's gettext plural rule (the form of the GNU gettext manual); a catalog
#: header states it and gettext reads it from there. Slovenian has four forms: 1, 2, 3–4 and
#: 5+ (0 too), by the last two digits: 1 števka, 2 števki, 3 števke, 5 števk, 101 števka.
PLURAL_FORMS = {
    "sl": "nplurals=4; plural=(n%100==1 ? 0 : n%100==2 ? 1 : n%100==3 || n%100==4 ? 2 : 3);",
}
#: the separator between a number and its per cent sign (a space in both languages: "98,7 %").
PERCENT_SPACE = " "

_active: contextvars.ContextVar[str | None] = contextvars.ContextVar("digitlab_language",
                                                                      default=None)


# ------------------------------------------------------------------ which language
def language_of_tag(tag: str | None) -> str | None:
    """The digitlab language of a locale or language tag, or None when digitlab does not speak it.

    ``"sl_SI.UTF-8"``, ``"sl-SI"``, ``"SL"`` -> ``"sl"``; ``"en_GB"`` -> ``"en"``;
    ``"C"``, ``"POSIX"``, ``"de_DE"``, ``""`` -> None.
    """
    if not tag:
        return None
    base = tag.strip().split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return base if base in LANGUAGES else None


def check_language(lang: str, source: str = "language") -> str:
    """``lang`` made canonical (``"SL"``, ``"sl_SI"`` -> ``"sl"``), or a one-line ConfigError."""
    found = language_of_tag(lang)
    if found is None:
        raise ConfigError(f"{source} must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    return found


def resolve_language(explicit: str | None = None,
                     environ: Mapping[str, str] | None = None) -> str:
    """The language to speak: ``explicit``, else ``DIGITLAB_LANG``, else the locale, else English.

    The locale is the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set and not empty,
    as gettext reads it; a locale in a language digitlab does not speak means English.
    """
    if explicit:
        return check_language(explicit)
    environ = os.environ if environ is None else environ
    chosen = environ.get(LANGUAGE_VARIABLE)
    if chosen:
        return check_language(chosen, LANGUAGE_VARIABLE)
    for variable in LOCALE_VARIABLES:
        value = environ.get(variable)
        if value:
            return language_of_tag(value) or SOURCE_LANGUAGE
    return SOURCE_LANGUAGE


def active_language() -> str:
    """The language of the innermost :func:`language` block, else :func:`resolve_language`."""
    return _active.get() or resolve_language()


@contextmanager
def language(lang: str | None) -> Iterator[str]:
    """Speak ``lang`` inside the block (None: as the environment says); yields the language."""
    token = _active.set(resolve_language(lang))
    try:
        yield _active.get()
    finally:
        _active.reset(token)


def preferred_language(accept_language: str | None) -> str:
    """The best language digitlab speaks for an HTTP ``Accept-Language`` header; else English.

    ``"sl-SI,sl;q=0.9,en;q=0.8"`` -> ``"sl"``; ``"de,en;q=0.5"`` -> ``"en"``; ``q=0`` refuses.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        lang = language_of_tag(tag)
        if lang is not None and quality > 0:
            ranked.append((-quality, position, lang))
    return min(ranked)[2] if ranked else SOURCE_LANGUAGE


# ------------------------------------------------------------------ catalogs
def catalog_path(lang: str, domain_name: str, suffix: str = ".mo") -> Path:
    """Where a domain's catalog for ``lang`` lives (``suffix`` ".po" for its source)."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain_name}{suffix}"


@functools.cache
def translations(domain_name: str, lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``domain_name`` in ``lang``; English (the source) needs none."""
    if domain_name not in DOMAINS:
        raise ValueError(f"unknown message domain {domain_name!r}; expected one of {DOMAINS}")
    return _gettext.translation(domain_name, LOCALE_DIR, languages=[lang], fallback=True)


def catalog_messages(domain_name: str, lang: str) -> dict:
    """A compiled catalog as plain JSON, for a page's scripts to translate with.

    ``{"language": "sl", "plural_forms": "nplurals=4; plural=(...);", "messages": {msgid:
    msgstr, singular msgid: [form 0, form 1, ...], "context\u0004msgid": msgstr}}``; English
    (no catalog) has no messages: a script shows the msgid, or its plural by ``n != 1``.
    """
    from babel.messages.mofile import read_mo

    result = {"language": lang, "plural_forms": PLURAL_FORMS.get(lang, "nplurals=2; "
              "plural=(n != 1);"), "messages": {}}
    path = catalog_path(lang, domain_name)
    if lang == SOURCE_LANGUAGE or not path.exists():
        return result
    with open(path, "rb") as compiled:
        catalog = read_mo(compiled)
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if message.pluralizable else message.id
        if message.context:
            key = f"{message.context}\u0004{key}"
        result["messages"][key] = list(message.string) if message.pluralizable else message.string
    return result


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (it is translated when shown)."""
    return message


class Domain:
    """The messages of one catalog, translated into the active language at each call.

    Bind its methods to the names extraction looks for: ``_ = Domain("report").gettext``,
    ``ngettext = ...ngettext``; calling the domain itself is gettext too. ``lang`` (keyword)
    overrides the active language for one call.
    """

    def __init__(self, name: str) -> None:
        if name not in DOMAINS:
            raise ValueError(f"unknown message domain {name!r}; expected one of {DOMAINS}")
        self.name = name

    def _catalog(self, lang: str | None) -> _gettext.NullTranslations:
        return translations(self.name, lang or active_language())

    def gettext(self, message: str, lang: str | None = None) -> str:
        return self._catalog(lang).gettext(message)

    __call__ = gettext

    def ngettext(self, singular: str, plural: str, count: int, lang: str | None = None) -> str:
        """The form of a message for ``count`` (Slovenian has four: 1, 2, 3–4, 5+ modulo 100)."""
        return self._catalog(lang).ngettext(singular, plural, int(count))

    def pgettext(self, context: str, message: str, lang: str | None = None) -> str:
        """A message whose translation depends on where it is used (``msgctxt``)."""
        return self._catalog(lang).pgettext(context, message)

    def npgettext(self, context: str, singular: str, plural: str, count: int,
           lang: str | None = None) -> str:
        return self._catalog(lang).npgettext(context, singular, plural, int(count))


@functools.cache
def domain(name: str) -> Domain:
    """The :class:`Domain` of catalog ``name`` (one of :data:`DOMAINS`)."""
    return Domain(name)


# ------------------------------------------------------------------ numbers and dates
def _not_available(lang: str | None) -> str:
    """What a missing number reads as ("n/a"), a message of the ``report`` catalog."""
    return domain("report").gettext(N_("n/a"), lang)


def _babel_locale(lang: str | None) -> str:
    return lang or active_language()


def number(value: float | int | None, digits: int | None = None, lang: str | None = None,
           group: bool = True) -> str:
    """A number written the active language's way: ``1234.5 -> "1,234.5"`` / ``"1.234,5"``.

    ``digits``: exactly that many decimals (None: as many as the value needs, up to three).
    ``group=False`` leaves out the thousands separator (years, counts in a formula). None is
    "n/a" in English and "ni podatka" in Slovenian.
    """
    from babel.numbers import format_decimal

    if value is None:
        return _not_available(lang)
    pattern = "#,##0" if group else "0"
    if digits is None:
        pattern += ".###"
    else:  # rounded by Python's own formatting, so every language shows the same digits
        pattern += "." + "0" * digits if digits else ""
        value = Decimal(f"{value:.{digits}f}")
    return format_decimal(value, format=pattern, locale=_babel_locale(lang))


def significant(value: float, digits: int = 4, lang: str | None = None) -> str:
    """``value`` to ``digits`` significant digits as Python's ``g`` format writes it, with the
    active language's decimal sign: ``0.001234567 -> "0.001235"`` / ``"0,001235"``."""
    from babel.numbers import get_decimal_symbol

    return format(value, f".{digits}g").replace(".", get_decimal_symbol(_babel_locale(lang)))


def percent(share: float | None, digits: int = 1, lang: str | None = None) -> str:
    """A share as a percentage: ``0.987 -> "98.7 %"`` in English, ``"98,7 %"`` in Slovenian."""
    if share is None:
        return _not_available(lang)
    return number(100 * share, digits, lang) + PERCENT_SPACE + "%"


def date(value: _dt.date | _dt.datetime | None = None, form: str = "long",
         lang: str | None = None) -> str:
    """A date in the active language: ``"December 17, 2026"`` / ``"17. december 2026"``.

    ``form``: Babel's "short", "medium", "long" or "full"; None means today.
    """
    from babel.dates import format_date

    return format_date(value or _dt.date.today(), form, locale=_babel_locale(lang))


def datetime(value: _dt.datetime, form: str = "medium", lang: str | None = None) -> str:
    """A moment in the active language: ``"17. dec. 2026, 14:05:00"`` in Slovenian."""
    from babel.dates import format_datetime

    return format_datetime(value, form, locale=_babel_locale(lang))
