"""The lab's language: which one each request is answered in, the page and the catalog in it.

**Which language.** A request is answered in (:func:`request_language`): the language the person
chose with the page's SL / EN switch (the ``digitlab_lang`` cookie the page sets, so every
request carries it, server-sent events too), else the server's default (``digitlab serve
--lang``), else the best language the browser accepts (its ``Accept-Language`` header, q-values
honoured: :func:`digitlab.i18n.preferred_language`), else English. :class:`RequestLanguage`
runs each request inside ``i18n.language(...)``, so whatever the server writes for it (an
error, a training's message, a dream's failure) comes in that language, from the ``lab`` catalog.

**The page.** ``static/index.html`` is written in English. An element whose text a person reads
carries ``data-i18n`` (its inner HTML is the message) and ``data-i18n-attrs="title aria-label"``
(those attributes' values are messages). :func:`page` sends it with ``<html lang>`` set to the
request's language, and, for a language other than English, the class ``translating``, which
keeps the page hidden until ``js/i18n.js`` has put the translations in (no English flashes by).
The script loads the catalog from ``GET /api/i18n/{lang}`` (:func:`catalog`) before anything is
drawn, translates what the page's scripts write, and does it all again when the switch changes
the language.

**The messages.** Python code of ``serve/`` writes ``_("...")`` (this module's :data:`_`) and
the scripts ``_("...")`` / ``ngettext(...)`` from ``js/i18n.js``; :func:`extract_page` is the
Babel extractor (named in ``i18n/lab.cfg``) of the page's own messages, written exactly as the
browser's ``innerHTML`` gives them, whitespace collapsed, which is how the script looks them up.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import cookie_parser

from digitlab import i18n
from digitlab.i18n import N_

__all__ = ["COOKIE", "N_", "LaterMessage", "RequestLanguage", "_", "catalog", "extract_page",
           "ngettext", "page", "request_language"]

_lab = i18n.domain("lab")
_, ngettext = _lab.gettext, _lab.ngettext

#: the cookie the page's language switch sets (a language code of :data:`i18n.LANGUAGES`)
COOKIE = "digitlab_lang"
PAGE = Path(__file__).parent / "static" / "index.html"
SOURCE_ROOT = '<html lang="en">'


# ------------------------------------------------------------------ which language
def request_language(chosen: str | None, default: str | None,
                     accept_language: str | None) -> str:
    """The language of a request: the page's choice (cookie), else the server's default, else
    the browser's preference (``Accept-Language``), else English. A cookie or default that
    digitlab does not speak is passed over."""
    for tag in (chosen, default):
        lang = i18n.language_of_tag(tag)
        if lang is not None:
            return lang
    return i18n.preferred_language(accept_language)


def language_of_headers(headers: Headers, default: str | None) -> str:
    """:func:`request_language` of a request's headers."""
    chosen = cookie_parser(headers.get("cookie", "")).get(COOKIE)
    return request_language(chosen, default, headers.get("accept-language"))


class RequestLanguage:
    """ASGI middleware: every request runs in its language (:func:`request_language`)."""

    def __init__(self, app, *, default: str | None = None):
        self.app = app
        self.default = default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        with i18n.language(language_of_headers(Headers(scope=scope), self.default)):
            return await self.app(scope, receive, send)


@dataclass(frozen=True)
class LaterMessage:
    """A message written now and read later, by whoever asks, each in their own language.

    ``str()`` translates ``text`` (an English message of the catalog, marked ``N_``) into the
    active language and fills in ``params``; ``translate=False`` keeps ``text`` as it is
    (another part's own words). A training's end is written by its process and read by every
    page that follows it: :meth:`from_wire` reads the plain dict (:meth:`to_wire`) such a
    process sends.
    """

    text: str
    params: dict[str, Any] = field(default_factory=dict)
    translate: bool = True

    def __str__(self) -> str:
        text = _(self.text) if self.translate else self.text
        return text.format(**self.params) if self.params else text

    def to_wire(self) -> dict[str, Any]:
        return {"text": self.text, "params": self.params, "translate": self.translate}

    @classmethod
    def from_wire(cls, data: dict[str, Any] | str | None) -> LaterMessage | None:
        if data is None or isinstance(data, str):
            return None if not data else cls(data, translate=False)
        return cls(str(data["text"]), dict(data.get("params") or {}),
                   bool(data.get("translate", True)))


# ------------------------------------------------------------------ the page and its catalog
def page(lang: str) -> str:
    """``index.html`` for a reader of ``lang``: ``<html lang>`` set; hidden until translated."""
    text = PAGE.read_text(encoding="utf-8")
    if lang == i18n.SOURCE_LANGUAGE:
        return text
    return text.replace(SOURCE_ROOT, f'<html lang="{lang}" class="translating">', 1)


@functools.cache
def catalog(lang: str) -> dict[str, Any]:
    """The ``lab`` catalog of ``lang`` for the page's scripts (:func:`i18n.catalog_messages`)."""
    return i18n.catalog_messages("lab", lang)


# ------------------------------------------------------------------ the page's messages
#: elements without an end tag (the HTML standard's void elements)
VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
WHITESPACE = re.compile(r"[ \t\n\r\f]+")


def collapse(text: str) -> str:
    """Runs of HTML whitespace as one space, none at the ends (as js/i18n.js does)."""
    return WHITESPACE.sub(" ", text).strip()


def _escape_text(text: str) -> str:
    """Text as the browser's innerHTML writes it (the HTML standard's serialization)."""
    return text.replace("&", "&amp;").replace("\u00a0", "&nbsp;").replace(
        "<", "&lt;").replace(">", "&gt;")


def _escape_attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace("\u00a0", "&nbsp;").replace('"', "&quot;")


def _start_tag(tag: str, attrs: list[tuple[str, str | None]]) -> str:
    written = "".join(f' {name}="{_escape_attribute(value or "")}"' for name, value in attrs)
    return f"<{tag}{written}>"


class _PageMessages(HTMLParser):
    """Collects ``(line, message)`` of the ``data-i18n`` elements and attributes of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._inner: list[str] | None = None  # the inner HTML of the open data-i18n element
        self._line = 0  # where it starts
        self._nested: list[str] = []  # the elements open inside it

    def handle_starttag(self, tag, attrs):
        line = self.getpos()[0]
        values = dict(attrs)
        for name in (values.get("data-i18n-attrs") or "").split():
            if values.get(name):
                self.found.append((line, collapse(values[name])))
        if self._inner is not None:
            if "data-i18n" in values:
                raise ValueError(f"line {line}: a data-i18n element inside another one")
            self._inner.append(_start_tag(tag, attrs))
            if tag not in VOID:
                self._nested.append(tag)
        elif "data-i18n" in values and tag not in VOID:
            self._inner, self._line, self._nested = [], line, []

    def handle_startendtag(self, tag, attrs):  # "<br/>": as the browser reads it, "<br>"
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if self._inner is None or tag in VOID:
            return
        if self._nested:
            self._nested.pop()
            self._inner.append(f"</{tag}>")
            return
        message = collapse("".join(self._inner))
        if message:
            self.found.append((self._line, message))
        self._inner = None

    def handle_data(self, data):
        if self._inner is not None:
            self._inner.append(_escape_text(data))

    def handle_comment(self, data):
        if self._inner is not None:
            self._inner.append(f"<!--{data}-->")


def page_messages(text: str) -> list[tuple[int, str]]:
    """``(line, message)`` of every ``data-i18n`` element and ``data-i18n-attrs`` attribute."""
    parser = _PageMessages()
    parser.feed(text)
    parser.close()
    return parser.found


def extract_page(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel extractor of a page's messages (``[extractors]`` of ``i18n/lab.cfg``)."""
    text = fileobj.read().decode(options.get("encoding", "utf-8"))
    for line, message in page_messages(text):
        yield line, None, message, []
