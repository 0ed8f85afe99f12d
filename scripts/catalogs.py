"""Extract, update and compile digitlab's message catalogs (gettext, managed with Babel).

    python scripts/catalogs.py            # every domain: extract, update the .po, compile the .mo
    python scripts/catalogs.py --check    # change nothing; say what is missing or out of date

For each domain of :data:`digitlab.i18n.DOMAINS` the messages are extracted from the sources its
mapping ``i18n/<domain>.cfg`` names (Babel's mapping format, patterns relative to ``src/``; the
keywords are Babel's defaults: ``_``, ``gettext``, ``ngettext``, ``pgettext``, ``npgettext``,
``N_``; the ``errors`` domain adds ``Message`` and ``Message.counted``, the English messages of
:class:`digitlab.errors.Message`, and takes only those from the command line's modules, whose
other messages are the ``cli`` catalog's: :data:`MESSAGES_ONLY`), merged into
``src/digitlab/locale/<lang>/LC_MESSAGES/<domain>.po`` for every language but the source
language English (a changed message keeps its old translation marked *fuzzy*,
for a person to review; a removed one is dropped), and each ``.po`` is compiled to its ``.mo``
(fuzzy and untranslated entries left out, so they show in English). The equivalent ``pybabel``
sequence for one domain is::

    pybabel extract -F i18n/report.cfg --no-location -o report.pot src
    pybabel update -D report -i report.pot -d src/digitlab/locale -l sl   # first time: init
    pybabel compile -D report -d src/digitlab/locale -l sl

``--check`` (run by ``tests/test_i18n.py`` through :func:`problems`) fails on a message in the
sources that is missing from a catalog, an untranslated or fuzzy entry, and a ``.mo`` that is not
the compilation of its ``.po``. Then translate the new entries in the ``.po`` (a text editor or
any PO editor) and run the script again.
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "src"
MAPPINGS = ROOT / "i18n"
sys.path.insert(0, str(SOURCES))

from digitlab.i18n import (  # noqa: E402
    DOMAINS,
    LANGUAGES,
    PLURAL_FORMS,
    SOURCE_LANGUAGE,
    catalog_path,
)

#: the languages with a catalog: all but the source language, in which the messages are written.
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE)
#: the calls whose string arguments are messages, per domain (Babel's keyword specification)
KEYWORDS = {"errors": {**DEFAULT_KEYWORDS, "Message": None, "counted": (1, 2)}}
#: a comment above a message that starts with this reaches the translator.
COMMENT_TAGS = ("Translators:",)
PO_WIDTH = 100
#: the calls of :class:`digitlab.errors.Message` (and nothing else) in sources whose other
#: messages belong to another domain: domain -> patterns under ``src/`` (the command line's
#: errors and training's notices are Messages of the ``errors`` catalog; the command line's help
#: and output are the ``cli`` catalog's, training's progress bar the ``report`` catalog's)
MESSAGES_ONLY = {"errors": ("digitlab/cli/**.py", "digitlab/training.py")}
#: domains whose click commands' docstrings (their --help) are messages too: domain -> folder
COMMAND_DOCSTRINGS = {"cli": "digitlab/cli"}
#: texts declared as data rather than in calls: the training options' help and their groups'
#: titles, which `digitlab train --help` shows (see :func:`declared_texts`)
#: and click's own messages that have a count (singular, plural pairs)
DECLARED_TEXTS = {"cli": (("digitlab/config.py", "option:help"),
                          ("digitlab/options.py", "GROUPS"),
                          ("digitlab/cli/click_messages.py", "PLURAL_MESSAGES"))}
HEADER_COMMENT = ("# The {domain} messages of digitlab in the language '{lang}'.\n"
                  "# Updated and compiled by scripts/catalogs.py: translate the new entries here\n"
                  "# (docs/glossary-sl.md lists the terms to use), then run it again.")


def extract(domain: str) -> Catalog:
    """The messages of ``domain`` as found in the sources its mapping names (a template)."""
    with open(MAPPINGS / f"{domain}.cfg", encoding="utf-8") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    template = Catalog(project="digitlab", domain=domain, fuzzy=False)
    found = extract_from_dir(SOURCES, method_map, options_map,
                             keywords=KEYWORDS.get(domain, DEFAULT_KEYWORDS),
                             comment_tags=COMMENT_TAGS, strip_comment_tags=True)
    for filename, lineno, message, comments, context in found:
        template.add(message, None, [(filename, lineno)], auto_comments=comments,
                     context=context)
    for pattern in MESSAGES_ONLY.get(domain, ()):
        only = {"Message": KEYWORDS["errors"]["Message"], "counted": KEYWORDS["errors"]["counted"]}
        for filename, lineno, message, comments, context in extract_from_dir(
                SOURCES, [(pattern, "python")], keywords=only, comment_tags=COMMENT_TAGS,
                strip_comment_tags=True):
            template.add(message, None, [(filename, lineno)], auto_comments=comments,
                         context=context)
    if domain in COMMAND_DOCSTRINGS:
        for filename, lineno, message in command_docstrings(COMMAND_DOCSTRINGS[domain]):
            template.add(message, None, [(filename, lineno)])
    for filename, lineno, message in declared_texts(DECLARED_TEXTS.get(domain, ())):
        template.add(message, None, [(filename, lineno)])
    return template


def declared_texts(places: tuple[tuple[str, str], ...]) -> list[tuple[str, int, str | tuple]]:
    """(file, line, text) of the texts declared in ``places``: (file under ``src/``, what) with
    what = ``"option:help"`` (the literal ``help=`` of each ``option(...)`` call, the training
    options' declarations), ``"GROUPS"`` (the literal values of that module-level dict) or
    ``"PLURAL_MESSAGES"`` (a module-level tuple of (singular, plural) pairs: text is the pair)."""
    found = []
    for relative, what in places:
        path = SOURCES / relative
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if what == "option:help" and isinstance(node, ast.Call) \
                    and getattr(node.func, "id", None) == "option":
                values = [k.value for k in node.keywords if k.arg == "help"]
            elif isinstance(node, ast.Assign) and any(
                    getattr(t, "id", None) == what for t in node.targets) \
                    and isinstance(node.value, ast.Dict):
                values = node.value.values
            elif isinstance(node, ast.Assign) and any(
                    getattr(t, "id", None) == what for t in node.targets) \
                    and isinstance(node.value, ast.Tuple):
                found += [(relative, pair.lineno, tuple(e.value for e in pair.elts))
                          for pair in node.value.elts if isinstance(pair, ast.Tuple)]
                continue
            else:
                continue
            found += [(relative, v.lineno, v.value) for v in values
                      if isinstance(v, ast.Constant) and isinstance(v.value, str) and v.value]
    return found


def command_docstrings(folder: str) -> list[tuple[str, int, str]]:
    """(file, line, docstring) of every click command or group under ``src/<folder>``: their
    help, which click shows cleaned as ``inspect.cleandoc`` cleans it (as here)."""
    found = []
    for path in sorted((SOURCES / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef):
                continue
            decorators = [ast.unparse(d) for d in node.decorator_list]
            if any(".command" in d or ".group" in d for d in decorators):
                text = ast.get_docstring(node, clean=True)
                if text:
                    found.append((str(path.relative_to(SOURCES)), node.lineno, text))
    return found


def read_catalog(domain: str, lang: str) -> Catalog | None:
    """The ``.po`` of ``domain`` in ``lang``, or None when there is none yet."""
    path = catalog_path(lang, domain, ".po")
    if not path.exists():
        return None
    with open(path, "rb") as po:
        return read_po(po, locale=lang, domain=domain)


def po_text(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=PO_WIDTH, no_location=True, omit_header=False,
             sort_output=True, ignore_obsolete=True, include_previous=True)
    return out.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    """The compiled catalog: translated entries only (untranslated and fuzzy show in English)."""
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def updated(template: Catalog, domain: str, lang: str) -> Catalog:
    """The ``.po`` of ``domain`` in ``lang`` merged with the messages now in the sources."""
    catalog = read_catalog(domain, lang)
    if catalog is None:
        catalog = Catalog(locale=lang, domain=domain, project="digitlab", version="",
                          copyright_holder="the digitlab authors", msgid_bugs_address="",
                          last_translator="digitlab", language_team=lang, fuzzy=False,
                          header_comment=HEADER_COMMENT.format(domain=domain, lang=lang))
        catalog.revision_date = catalog.creation_date
    if lang in PLURAL_FORMS:  # the gettext manual's rule rather than Babel's equivalent one
        catalog.mime_headers = [("Plural-Forms", PLURAL_FORMS[lang])]
    catalog.update(template, no_fuzzy_matching=False, update_header_comment=False)
    catalog.obsolete.clear()
    return catalog


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
    return True


def _same_messages(old: Catalog | None, new: Catalog) -> bool:
    """True when two catalogs hold the same entries (the dates in the header aside)."""
    if old is None:
        return False

    def texts(value) -> tuple:  # an id or a translation; plural ones have several forms
        return () if value is None else (value,) if isinstance(value, str) else tuple(value)

    def entries(catalog: Catalog) -> list:
        return sorted((texts(m.id), m.context or "", texts(m.string),
                       tuple(sorted(m.flags)), tuple(m.auto_comments), tuple(m.previous_id))
                      for m in catalog if m.id)
    return entries(old) == entries(new)


def build() -> list[str]:
    """Extract, update and compile every domain; the files written."""
    written = []
    for domain in DOMAINS:
        template = extract(domain)
        for lang in TRANSLATED:
            old = read_catalog(domain, lang)
            catalog = updated(template, domain, lang)
            po_path = catalog_path(lang, domain, ".po")
            if not _same_messages(old, catalog) and _write_if_changed(po_path, po_text(catalog)):
                written.append(str(po_path.relative_to(ROOT)))
            mo_path = catalog_path(lang, domain, ".mo")
            if _write_if_changed(mo_path, mo_bytes(read_catalog(domain, lang))):
                written.append(str(mo_path.relative_to(ROOT)))
    return written


def untranslated(catalog: Catalog) -> list[str]:
    """The entries of a catalog with an empty translation (any plural form) or marked fuzzy."""
    bad = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if message.fuzzy or not all(strings):
            bad.append(message.id if isinstance(message.id, str) else message.id[0])
    return bad


def problems(domain: str, lang: str) -> list[str]:
    """Why the catalog of ``domain`` in ``lang`` is not complete and compiled (empty: it is)."""
    where = f"{domain}.po ({lang})"
    catalog = read_catalog(domain, lang)
    if catalog is None:
        return [f"{where}: missing; run scripts/catalogs.py"]
    found = []
    known = {(m.id, m.context) for m in catalog if m.id}
    for message in extract(domain):
        if message.id and (message.id, message.context) not in known:
            text = message.id if isinstance(message.id, str) else message.id[0]
            found.append(f"{where}: not in the catalog: {text!r}; run scripts/catalogs.py")
    found += [f"{where}: untranslated or fuzzy: {text!r}" for text in untranslated(catalog)]
    mo_path = catalog_path(lang, domain, ".mo")
    if not mo_path.exists() or mo_path.read_bytes() != mo_bytes(catalog):
        found.append(f"{where}: {mo_path.name} is not compiled from it; run scripts/catalogs.py")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; list what is missing, untranslated or stale")
    args = parser.parse_args(argv)
    if args.check:
        found = [p for domain in DOMAINS for lang in TRANSLATED for p in problems(domain, lang)]
        print("\n".join(found) or "catalogs complete and compiled")
        return 1 if found else 0
    for path in build():
        print(f"wrote {path}")
    found = [p for domain in DOMAINS for lang in TRANSLATED for p in problems(domain, lang)]
    if found:
        print(f"{len(found)} entries to translate or review:")
        print("\n".join(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
