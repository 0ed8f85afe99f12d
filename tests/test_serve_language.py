"""The web lab in Slovenian and English: which language a request is answered in, the catalog the
page's scripts read (GET /api/i18n/{lang}), the page served in it, the server's messages in it,
and the messages of the page and its scripts reaching the `lab` catalog."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from digitlab import i18n  # noqa: E402
from digitlab.analysis.nondigits import KINDS  # noqa: E402
from digitlab.errors import ConfigError  # noqa: E402
from digitlab.serve import create_app, language, probes  # noqa: E402
from digitlab.serve.language import LaterMessage, page_messages, request_language  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "src" / "digitlab" / "serve" / "static" / "js"
BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def catalogs():
    spec = importlib.util.spec_from_file_location("catalogs", ROOT / "scripts" / "catalogs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """The lab on an empty runs folder (no network is needed to speak)."""
    app = create_app(tmp_path_factory.mktemp("runs"), port=8000)
    with TestClient(app, base_url=BASE) as test_client:
        yield test_client


# ------------------------------------------------------------------ which language
@pytest.mark.parametrize("cookie, default, header, expected", [
    (None, None, "sl-SI,sl;q=0.9,en;q=0.8", "sl"),
    (None, None, "en-GB,en;q=0.9,sl;q=0.8", "en"),
    (None, None, "de-AT,de;q=0.9,sl;q=0.4", "sl"),  # the best language digitlab speaks
    (None, None, "en;q=0.3, sl;q=0.7", "sl"),  # q-values, not the order, decide
    (None, None, "sl;q=0, *;q=0.5", "en"),  # q=0 refuses Slovenian
    (None, None, "fr, de", "en"),
    (None, None, None, "en"),
    (None, "sl", "en-US,en", "sl"),  # digitlab serve --lang sl: the default for everyone
    ("en", "sl", "sl", "en"),  # the reader's own choice (the switch) wins
    ("sl", None, "en-US", "sl"),
    ("xx", None, "sl", "sl"),  # a cookie digitlab cannot read is passed over
])
def test_a_request_speaks_the_readers_choice_then_the_servers_then_the_browsers(
        cookie, default, header, expected):
    assert request_language(cookie, default, header) == expected


def test_an_unknown_server_language_is_a_one_line_error():
    with pytest.raises(ConfigError, match=r"^lang must be one of en, sl, got 'de'$"):
        create_app("runs", lang="de")


# ------------------------------------------------------------------ the catalog and the page
def test_the_catalog_endpoint_sends_a_languages_messages_and_plural_rule(client):
    sl = client.get("/api/i18n/sl")
    assert sl.status_code == 200 and sl.headers["content-type"] == "application/json"
    body = sl.json()
    assert set(body) == {"language", "plural_forms", "messages"}
    assert body["language"] == "sl" and body["plural_forms"] == i18n.PLURAL_FORMS["sl"]
    assert body["messages"]["Draw a digit"] == "Nariši števko"
    forms = body["messages"]["{n} input"]  # a plural message: its four forms
    assert forms == ["{n} vhod", "{n} vhoda", "{n} vhodi", "{n} vhodov"]
    assert body["messages"]["legend\u0004train"] == "učna"  # a message with a context
    en = client.get("/api/i18n/en").json()
    assert en == {"language": "en", "plural_forms": "nplurals=2; plural=(n != 1);",
                  "messages": {}}
    for unknown in ("de", "SL", "sl-SI", "x" * 300):
        answer = client.get(f"/api/i18n/{unknown}")
        assert answer.status_code == 404, unknown
        assert set(answer.json()) == {"error"} and "expected one of en, sl" in answer.json()[
            "error"]


def test_the_page_comes_in_the_readers_language_and_hidden_until_translated(client, tmp_path):
    def root(response) -> str:
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
        assert "Accept-Language" in response.headers["vary"]
        return re.search(r"<html[^>]*>", response.text).group(0)

    assert root(client.get("/", headers={"Accept-Language": "sl-SI,sl;q=0.9"})) == \
        '<html lang="sl" class="translating">'
    assert root(client.get("/index.html", headers={"Accept-Language": "en-US"})) == \
        '<html lang="en">'
    client.cookies.set(language.COOKIE, "en")
    try:
        assert root(client.get("/", headers={"Accept-Language": "sl"})) == '<html lang="en">'
    finally:
        client.cookies.clear()
    with TestClient(create_app(tmp_path, port=8000, lang="sl"), base_url=BASE) as slovene:
        assert root(slovene.get("/", headers={"Accept-Language": "en"})) == \
            '<html lang="sl" class="translating">'


def test_the_servers_messages_come_in_the_requests_language(client):
    sl = client.get("/api/models/nope", headers={"Accept-Language": "sl"})
    assert sl.status_code == 404
    assert sl.json()["error"] == "neznana oznaka modela 'nope'; seznam vrne GET /api/models"
    en = client.get("/api/models/nope", headers={"Accept-Language": "en"})
    assert en.json()["error"] == "unknown model id 'nope'; GET /api/models lists them"
    client.cookies.set(language.COOKIE, "sl")  # the page's choice, sent with every request
    try:
        answer = client.post("/api/dream", json={"digit": 3, "steps": 0},
                             headers={"Accept-Language": "en"})
        assert answer.status_code == 422
        assert answer.json()["error"] == "'steps' mora biti med 1 in 5000, dobljeno 0"
        kinds = {k["name"]: k["description"] for k in client.get("/api/nondigits").json()["kinds"]}
        assert kinds["letters"] == "črke A–Z" and kinds["shifted_digits"].startswith("števke")
        assert kinds["drawn_letters"] == "narisane črke A–Z"
    finally:
        client.cookies.clear()


def test_a_message_kept_for_later_is_read_in_each_readers_language():
    message = LaterMessage(language.N_("cancelled in epoch {epoch}: the last completed epoch "
                                       "({done}) is kept; digitlab train --resume continues it"),
                           {"epoch": 3, "done": 2})
    with i18n.language("sl"):
        assert str(message).startswith("prekinjeno v epohi 3: zadnja končana epoha (2) ostane")
    with i18n.language("en"):
        assert str(message).startswith("cancelled in epoch 3: the last completed epoch (2)")
    assert LaterMessage.from_wire(message.to_wire()) == message
    as_it_is = LaterMessage.from_wire("lr must be > 0, got -1")
    with i18n.language("sl"):
        assert str(as_it_is) == "lr must be > 0, got -1"
    assert LaterMessage.from_wire(None) is None


def test_every_kind_of_non_digit_has_its_title_in_the_lab():
    assert set(probes.KIND_TITLES) == set(KINDS)
    with i18n.language("en"):  # in English the titles of digitlab analyze
        assert {name: probes.title(kind) for name, kind in KINDS.items()} == \
            {name: kind.title for name, kind in KINDS.items()}


# ------------------------------------------------------------------ the messages of the page
def test_the_pages_messages_are_read_as_the_browser_writes_them():
    page = """<html><body>
      <p data-i18n>Red  pixels push
        toward <b class="key red">the&nbsp;answer</b> &amp; more<br/>at 1 &lt; 2</p>
      <canvas aria-label="The 28 by 28 image" title="not marked" data-i18n-attrs="aria-label">
      </canvas>
      <button data-i18n data-i18n-attrs="title" title="Undo (Ctrl+Z)">↶ Undo</button>
      <p>not marked</p></body></html>"""
    assert [text for _, text in page_messages(page)] == [
        'Red pixels push toward <b class="key red">the&nbsp;answer</b> &amp; more<br>at 1 &lt; 2',
        "The 28 by 28 image", "Undo (Ctrl+Z)", "↶ Undo"]
    with pytest.raises(ValueError, match="data-i18n element inside another"):
        page_messages("<p data-i18n>a <span data-i18n>b</span></p>")


def test_the_catalog_holds_the_messages_of_the_page_the_scripts_and_the_server(catalogs):
    """What tests/test_i18n.py holds the catalog to: a new untranslated string of any of these
    sources is missing from the catalog and fails there."""
    found = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogs.extract("lab") if m.id}
    assert "Draw a digit" in found  # index.html, data-i18n
    assert "Drawing tools" in found  # index.html, data-i18n-attrs
    assert "Next most likely: {second} ({p2}), then {third} ({p3})." in found  # a script
    assert "{n} input" in found  # a script's ngettext
    assert "Mean cross-entropy loss per epoch" in found  # a script's N_
    assert "no training is running" in found  # the server


#: a call of the scripts' translation functions with a string literal as its message
SCRIPT_CALL = re.compile(r"""(?<![\w.])(?:_|N_|ngettext|pgettext\(\s*"[^"]*",)\(?\s*"""
                         r"""(["'])((?:\\.|(?!\1).)*)\1""")


def test_every_message_the_scripts_ask_for_reaches_the_catalog(catalogs):
    """Babel's JavaScript extractor skips a call nested in another one's arguments
    (``_("{a}", {a: _("b")})``): such a message would silently stay English."""
    found = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogs.extract("lab") if m.id}
    asked = []
    for script in sorted(SCRIPTS.glob("*.js")):
        for match in SCRIPT_CALL.finditer(script.read_text(encoding="utf-8")):
            start = re.sub(r"\\(.)", r"\1", match.group(2))  # the first literal of the message
            asked.append(start)
            assert any(message.startswith(start) for message in found), (script.name, start)
    assert len(asked) > 150


def test_serve_refuses_a_language_it_does_not_speak(tmp_path, capsys, monkeypatch):
    from digitlab.cli import main

    monkeypatch.delenv(i18n.LANGUAGE_VARIABLE, raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--runs", str(tmp_path), "--lang", "de"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --lang must be one of en, sl, got 'de'"
