"""The command line in Slovenian: --help and messages follow DIGITLAB_LANG, then the locale,
translated when they are shown (the modules are imported once, in whatever language)."""

import importlib

import pytest

from cli_runner import run_cli
from digitlab.cli import COMMANDS
from digitlab.cli.help import TranslatedHelp


def test_help_is_english_by_default_and_slovenian_with_digitlab_lang(capsys, monkeypatch):
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0 and "Show this message and exit." in out
    assert "Run the complete study and write an HTML report" in out
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, _ = run_cli(["--help"], capsys)  # the same command objects, now in Slovenian
    assert code == 0 and "Pokaži to sporočilo in končaj." in out
    assert "Izvedi celotno študijo in zapiši poročilo HTML" in out
    assert "Show this message" not in out and "Run the complete study" not in out


def test_a_slovenian_locale_gives_slovenian_option_help(capsys, monkeypatch):
    monkeypatch.setenv("LC_ALL", "sl_SI.UTF-8")
    code, out, _ = run_cli(["report", "--help"], capsys)
    out = " ".join(out.split())  # as one line: click wraps the help at the terminal's width
    assert code == 0
    assert "Drobne nastavitve: hiter preizkus ali prvi pogled" in out  # --quick
    assert "Jezik besedila: en ali sl" in out  # --lang
    assert "Zbirka podatkov: mnist-sample (priložena)" in out  # the shared --dataset
    assert "Tiny settings" not in out


def test_errors_are_one_line_in_the_language_and_a_bad_language_is_refused(capsys, monkeypatch):
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, _, err = run_cli(["train", "--lr", "abc"], capsys)
    assert code == 2 and err.strip() == "napaka: --lr must be a number, got 'abc'"
    monkeypatch.setenv("DIGITLAB_LANG", "de")
    code, out, err = run_cli(["--help"], capsys)
    assert code == 2 and not out
    assert err.strip() == "error: DIGITLAB_LANG must be one of en, sl, got 'de'"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_translates_its_help(name):
    module, attribute = COMMANDS[name].split(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, TranslatedHelp), name
    for sub in getattr(command, "commands", {}).values():
        assert isinstance(sub, TranslatedHelp), (name, sub.name)
