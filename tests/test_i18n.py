"""Languages: choosing one, the catalogs being complete and compiled, plural forms, numbers and
dates written the Slovenian way, and the Slovenian terms of docs/glossary-sl.md."""

from __future__ import annotations

import datetime
import gettext
import importlib.util
import re
import threading
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from digitlab import i18n
from digitlab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _load_catalog_script():
    spec = importlib.util.spec_from_file_location("catalogs", ROOT / "scripts" / "catalogs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


catalogs = _load_catalog_script()
TRANSLATED = [(domain, lang) for domain in i18n.DOMAINS for lang in catalogs.TRANSLATED]


# ------------------------------------------------------------------ which language
@pytest.mark.parametrize("environ, expected", [
    ({}, "en"),
    ({"LANG": "sl_SI.UTF-8"}, "sl"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LANG": "de_DE.UTF-8"}, "en"),
    ({"LANG": "sl_SI.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "sl_SI.UTF-8"}, "sl"),
    ({"LC_MESSAGES": "en_US.UTF-8", "LC_ALL": "sl_SI@euro"}, "sl"),
    ({"LC_ALL": "sl", "DIGITLAB_LANG": "en"}, "en"),
    ({"LANG": "en_GB.UTF-8", "DIGITLAB_LANG": "SL"}, "sl"),
    ({"LANG": "sl_SI.UTF-8", "DIGITLAB_LANG": ""}, "sl"),
])
def test_the_language_comes_from_digitlab_lang_then_the_locale_then_english(environ, expected):
    assert i18n.resolve_language(None, environ) == expected


def test_an_explicit_language_wins_and_an_unknown_one_is_a_one_line_error():
    assert i18n.resolve_language("sl", {"DIGITLAB_LANG": "en"}) == "sl"
    assert i18n.resolve_language("en-GB", {"DIGITLAB_LANG": "sl"}) == "en"
    with pytest.raises(ConfigError, match=r"^language must be one of en, sl, got 'de'$"):
        i18n.resolve_language("de")
    with pytest.raises(ConfigError, match=r"^DIGITLAB_LANG must be one of en, sl, got 'xx'$"):
        i18n.resolve_language(None, {"DIGITLAB_LANG": "xx"})


def test_the_active_language_is_set_by_a_block_and_stays_in_its_thread(monkeypatch):
    monkeypatch.setenv("DIGITLAB_LANG", "en")
    seen = []
    with i18n.language("sl") as lang:
        assert lang == "sl" and i18n.active_language() == "sl"
        with i18n.language("en"):
            assert i18n.active_language() == "en"
        assert i18n.active_language() == "sl"
        thread = threading.Thread(target=lambda: seen.append(i18n.active_language()))
        thread.start()
        thread.join()
    assert i18n.active_language() == "en" and seen == ["en"]


@pytest.mark.parametrize("header, expected", [
    ("sl-SI,sl;q=0.9,en-US;q=0.8,en;q=0.7", "sl"),
    ("en-US,en;q=0.9,sl;q=0.8", "en"),
    ("de-DE,de;q=0.9,sl;q=0.5", "sl"),
    ("de-DE,fr", "en"),
    ("sl;q=0,en;q=0.1", "en"),
    ("en;q=0.5, sl", "sl"),
    ("", "en"),
    (None, "en"),
    ("sl;q=nonsense", "en"),
])
def test_the_browser_language_is_the_best_accepted_one(header, expected):
    assert i18n.preferred_language(header) == expected


# ------------------------------------------------------------------ plural forms
#: n -> the index of its Slovenian form: 1 števka, 2 števki, 3/4 števke, 5+ števk, by n mod 100.
SLOVENIAN_FORMS = {1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 101: 0, 102: 1, 103: 2, 105: 3,
                   0: 3, 11: 3, 12: 3, 21: 3, 111: 3, 201: 0, 1003: 2}


def test_the_slovenian_plural_rule_has_four_forms_by_the_last_two_digits():
    rule = gettext.c2py(i18n.PLURAL_FORMS["sl"].split("plural=")[1].rstrip(";"))
    for n, form in SLOVENIAN_FORMS.items():
        assert rule(n) == form, n
    assert i18n.PLURAL_FORMS["sl"].startswith("nplurals=4;")


@pytest.mark.parametrize("domain, lang", TRANSLATED)
def test_every_catalog_states_the_plural_rule_and_gettext_reads_it(domain, lang):
    assert catalogs.read_catalog(domain, lang).plural_forms == i18n.PLURAL_FORMS[lang]
    compiled = i18n.translations(domain, lang)
    assert isinstance(compiled, gettext.GNUTranslations)
    assert {n: compiled.plural(n) for n in SLOVENIAN_FORMS} == SLOVENIAN_FORMS


# ------------------------------------------------------------------ the catalogs
@pytest.fixture(scope="module")
def sl_catalogs():
    return {domain: catalogs.read_catalog(domain, "sl") for domain in i18n.DOMAINS}


@pytest.mark.parametrize("domain, lang", TRANSLATED)
def test_every_message_is_in_the_catalog_translated_and_compiled(domain, lang):
    assert catalogs.problems(domain, lang) == []


def test_the_check_finds_untranslated_fuzzy_and_missing_messages(sl_catalogs):
    from babel.messages.catalog import Catalog

    catalog = Catalog(locale="sl")
    catalog.add("done", "končano")
    catalog.add("half", "")
    catalog.add("unsure", "morda", flags=["fuzzy"])
    catalog.add(("{n} digit", "{n} digits"), ("{n} števka", "{n} števki", "", "{n} števk"))
    assert catalogs.untranslated(catalog) == ["half", "unsure", "{n} digit"]
    template = Catalog()
    template.add("a message nobody translated")
    known = {m.id for m in sl_catalogs["report"]}
    assert [m.id for m in template if m.id and m.id not in known] == [
        "a message nobody translated"]


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w*)[^{}]*\}", text))


def _forms(message) -> list[str]:
    return list(message.string) if message.pluralizable else [message.string]


@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_translations_keep_the_placeholders_of_the_english_message(domain, sl_catalogs):
    for message in sl_catalogs[domain]:
        if not message.id:
            continue
        ids = list(message.id) if message.pluralizable else [message.id]
        wanted = set().union(*(_placeholders(i) for i in ids))
        for form in _forms(message):
            got = _placeholders(form)
            assert got <= wanted, (message.id, form)
            if not message.pluralizable:
                assert got == wanted, (message.id, form)


def test_the_compiled_catalogs_ship_in_the_wheel():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["digitlab"]
    package = ROOT / "src" / "digitlab"
    compiled = sorted(package.glob("locale/*/LC_MESSAGES/*.mo"))
    assert len(compiled) == len(TRANSLATED)
    for path in compiled:
        relative = path.relative_to(package).as_posix()
        assert any(Path(relative).match(pattern) for pattern in patterns), relative
    assert "babel" in " ".join(project["project"]["dependencies"]).lower()


# ------------------------------------------------------------------ the glossary
def glossary() -> list[tuple[str, str, list[str]]]:
    """(English term, Slovenian term, stems) from docs/glossary-sl.md's table."""
    rows = []
    for line in (ROOT / "docs" / "glossary-sl.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("English", "") and not cells[0].startswith("-"):
            rows.append((cells[0], cells[1], [s.strip() for s in cells[2].split(",")]))
    return rows


def term_pattern(term: str) -> re.Pattern:
    """The English term as a whole word, its plural too: "weight" finds "Weights"."""
    return re.compile(r"\b" + re.escape(term) + r"(s|es)?\b", re.IGNORECASE)


def test_the_glossary_is_read():
    terms = {english: stems for english, _, stems in glossary()}
    assert terms["neural network"] == ["nevronsk", "mrež"]
    assert terms["confusion matrix"] == ["matrik", "zmot"] and len(terms) >= 20
    assert term_pattern("weight").search("Weights and biases")
    assert not term_pattern("layer").search("a multilayer perceptron")


def glossary_violations(catalog) -> list[str]:
    terms = [(term_pattern(english), english, stems) for english, _, stems in glossary()]
    found = []
    for message in catalog:
        if not message.id:
            continue
        english = " ".join(message.id) if message.pluralizable else message.id
        # placeholders, commands, flags and file names are no words
        english = re.sub(r"\{[^{}]*\}|`[^`]*`|--[\w-]+|[\w/<>-]+\.[a-z]{2,4}\b", " ", english)
        for pattern, term, stems in terms:
            if not pattern.search(english):
                continue
            for form in _forms(message):
                missing = [stem for stem in stems if stem.lower() not in form.lower()]
                if form and missing:
                    found.append(f"{term!r} in {english!r}: {form!r} lacks {missing}")
    return found


@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_the_slovenian_catalogs_use_the_glossary_terms(domain, sl_catalogs):
    assert glossary_violations(sl_catalogs[domain]) == []


def test_the_glossary_check_can_fail():
    from babel.messages.catalog import Catalog

    catalog = Catalog(locale="sl")
    catalog.add("The confusion matrix of the network", "Tabela zamenjav modela")
    catalog.add("Learning rate", "Hitrost učenja")
    assert len(glossary_violations(catalog)) == 2


# ------------------------------------------------------------------ numbers and dates
def test_numbers_and_percentages_are_written_the_languages_way():
    assert i18n.percent(0.987, lang="sl") == "98,7 %"
    assert i18n.percent(0.987, lang="en") == "98.7 %"
    assert i18n.percent(0.91249, 2, lang="sl") == "91,25 %"
    assert i18n.number(1234.5, 1, lang="sl") == "1.234,5"
    assert i18n.number(1234.5, 1, lang="en") == "1,234.5"
    assert i18n.number(2026, 0, lang="sl", group=False) == "2026"
    assert i18n.number(0.125, lang="sl") == "0,125"
    assert i18n.percent(None, lang="sl") == "ni podatka"
    assert i18n.percent(None, lang="en") == "n/a"
    with i18n.language("sl"):
        assert i18n.percent(0.5) == "50,0 %"


def test_dates_are_written_in_the_language():
    day = datetime.date(2026, 12, 17)
    assert i18n.date(day, lang="sl") == "17. december 2026"
    assert i18n.date(day, lang="en") == "December 17, 2026"
    assert i18n.datetime(datetime.datetime(2026, 3, 2, 14, 5), "short", lang="sl").startswith(
        "2. 3. 2026")


def test_a_catalog_reads_as_json_for_scripts():
    sl = i18n.catalog_messages("report", "sl")
    assert sl["language"] == "sl" and sl["plural_forms"] == i18n.PLURAL_FORMS["sl"]
    assert sl["messages"]["n/a"] == "ni podatka"
    assert i18n.catalog_messages("report", "en")["messages"] == {}


def test_figures_write_their_axes_numbers_in_the_language(tmp_path):
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    from digitlab.plots import save_figure

    def labels(lang):
        fig = Figure()
        ax = fig.add_subplot()
        ax.plot([0.0, 0.25, 0.5], [0.9, 0.925, 0.95])
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        with i18n.language(lang):
            save_figure(fig, tmp_path / f"{lang}.png")  # draws it: the labels are filled in
        return ([t.get_text() for t in ax.get_xticklabels()],
                [t.get_text() for t in ax.get_yticklabels()])

    english, slovenian = labels("en"), labels("sl")
    assert "0.1" in english[0] and "0,1" in slovenian[0]
    assert "92.0%" in english[1] and "92,0 %" in slovenian[1]
    # the same ticks and digits, written the language's way
    assert [x.replace(".", ",") for x in english[0]] == slovenian[0]
    assert [y.replace(".", ",").replace("%", " %") for y in english[1]] == slovenian[1]
    assert not any("." in text for text in slovenian[0] + slovenian[1])


# ------------------------------------------------------------------ errors said in the language
def test_an_error_message_is_english_and_said_again_in_slovenian(monkeypatch):
    import pickle

    from digitlab.config import TrainConfig

    monkeypatch.setenv("DIGITLAB_LANG", "sl")  # the API stays English whatever the environment
    with pytest.raises(ConfigError) as caught:
        TrainConfig(lr=-1.0)
    assert str(caught.value) == "lr must be > 0.0, got -1.0"
    assert caught.value.translated() == "lr mora biti > 0.0, dobljeno -1.0"
    assert caught.value.translated("en") == "lr must be > 0.0, got -1.0"
    again = pickle.loads(pickle.dumps(caught.value))  # errors cross process boundaries
    assert str(again) == str(caught.value) and again.translated() == caught.value.translated()
    assert ConfigError("plain text").translated() == "plain text"  # not a Message: as written


def test_a_counted_error_message_takes_the_four_slovenian_forms():
    from digitlab.errors import Message

    def said(n):
        return Message.counted("{n} byte of garbage after the gzip stream",
                               "{n} bytes of garbage after the gzip stream", n, n=n)

    assert [str(said(n)) for n in (1, 2)] == ["1 byte of garbage after the gzip stream",
                                              "2 bytes of garbage after the gzip stream"]
    assert [said(n).translated("sl").split()[1] for n in (1, 2, 3, 4, 5, 101, 102, 103, 105)] \
        == ["bajt", "bajta", "bajti", "bajti", "bajtov", "bajt", "bajta", "bajti", "bajtov"]
    inner = Message("{path}: {problem}", path="x.gz", problem=said(3))  # translated with it
    assert inner.translated("sl") == "x.gz: 3 bajti smeti za tokom gzip"


def test_the_training_bar_speaks_the_language():
    from digitlab.training import _progress_postfix

    with i18n.language("sl"):
        assert _progress_postfix(0.123456, 0.5321) == "E=0,1235 točn.=53,21 %"
    with i18n.language("en"):
        assert _progress_postfix(0.123456, 0.5321) == "E=0.1235 acc=53.21 %"


def test_clicks_path_messages_name_the_kind_of_path_in_the_language():
    import click

    from digitlab.cli.click_messages import click_speaks

    kind = click.Path(exists=True, file_okay=False)  # declared outside: named in English
    with click_speaks("sl"), pytest.raises(click.BadParameter) as caught:
        kind.convert("nosuch", None, None)
    assert caught.value.message == "Mapa 'nosuch' ne obstaja."
    with pytest.raises(click.BadParameter) as caught:  # and click's English after the block
        kind.convert("nosuch", None, None)
    assert caught.value.message == "Directory 'nosuch' does not exist."
