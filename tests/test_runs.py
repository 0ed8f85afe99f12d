"""Run tracking: ``digitlab runs`` (the table, ``--sort``, ``--json``) and ``runs compare``, and
the library functions behind them (``digitlab.runs``)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import digitlab as dl
from cli_runner import run_cli
from digitlab.errors import ConfigError, DataError
from digitlab.runs import (
    compare_runs,
    differing_fields,
    find_run_folders,
    list_runs,
    read_run,
    run_label,
)

TINY = dict(hidden=[16], epochs=2, max_train_samples=200, trace_every=100, progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """runs/lr-small, runs/lr-large (lr differs) and runs/wide/h32 (hidden and lr differ);
    runs/lr-small/mlruns holds a copy of a run, which is below a run folder and not listed."""
    root = tmp_path_factory.mktemp("tracked") / "runs"
    for out, fields in (("lr-small", dict(lr=0.003)), ("lr-large", dict(lr=0.03)),
                        ("wide/h32", dict(lr=0.03, hidden=[32]))):
        dl.train(dl.presets.assignment, out=root / out, **{**TINY, **fields})
    shutil.copytree(root / "lr-large", root / "lr-small" / "mlruns" / "copy")
    return root


def test_runs_are_found_recursively_but_not_below_a_run_folder(runs, tmp_path):
    assert [p.relative_to(runs).as_posix() for p in find_run_folders([runs])] == \
        ["lr-large", "lr-small", "wide/h32"]
    assert find_run_folders([runs / "wide" / "h32"]) == [runs / "wide" / "h32"]  # a run itself
    assert find_run_folders([runs, runs / "wide"]) == find_run_folders([runs])  # each once
    with pytest.raises(DataError, match="no such folder"):
        find_run_folders([tmp_path / "missing"])


def test_a_run_is_summarised_from_its_json_files(runs):
    run = read_run(runs / "lr-small")
    evaluation = json.loads((runs / "lr-small" / "evaluation.json").read_text())
    history = json.loads((runs / "lr-small" / "history.json").read_text())
    assert run.config["lr"] == 0.003 and run.config["hidden"] == [16]
    assert (run.epochs, run.planned_epochs, run.status) == (2, 2, "completed")
    assert run.accuracy == evaluation["accuracy"] and run.accuracy_split == "test"
    assert run.seconds == pytest.approx(sum(e["seconds"] for e in history["epochs"]))
    assert type(run).from_dict(run.to_dict()) == run


def test_the_differing_fields_tell_the_runs_apart(runs):
    found = list_runs([runs])
    assert differing_fields(found) == ["hidden", "lr"]
    assert differing_fields(found[:2]) == ["lr"]
    assert [run_label(r, ["hidden", "lr"]) for r in found] == \
        ["hidden=16, lr=0.03", "hidden=16, lr=0.003", "hidden=32, lr=0.03"]
    assert run_label(found[0], []) == "lr-large"


def test_runs_sort_by_a_column_or_a_config_field(runs):
    by_lr = list_runs([runs], sort="lr")
    assert [r.config["lr"] for r in by_lr] == [0.003, 0.03, 0.03]
    best_first = list_runs([runs], sort="-accuracy")
    accuracies = [r.accuracy for r in best_first]
    assert accuracies == sorted(accuracies, reverse=True)
    assert [r.name for r in list_runs([runs], sort="-path")] == ["h32", "lr-small", "lr-large"]
    with pytest.raises(ConfigError, match="cannot sort by 'colour'.*lr"):
        list_runs([runs], sort="colour")


def test_an_unfinished_or_unreadable_run_is_shown_or_skipped(runs, tmp_path, caplog):
    folder = tmp_path / "runs"
    shutil.copytree(runs / "lr-small", folder / "stopped", ignore=shutil.ignore_patterns("ml*"))
    (folder / "stopped" / "evaluation.json").unlink()
    history = json.loads((folder / "stopped" / "history.json").read_text())
    history["epochs"] = history["epochs"][:1]
    (folder / "stopped" / "history.json").write_text(json.dumps(history))
    shutil.copytree(folder / "stopped", folder / "broken")
    (folder / "broken" / "config.json").write_text("{not json")
    shutil.copytree(folder / "stopped", folder / "odd")
    odd = {"epochs": [{"epoch": 1, "seconds": "soon", "test_accuracy": True}]}
    (folder / "odd" / "history.json").write_text(json.dumps(odd))
    (stopped,) = [run for run in list_runs([folder]) if run.name == "stopped"]
    odd_run = read_run(folder / "odd")  # values of the wrong kind are no values
    assert (odd_run.seconds, odd_run.accuracy, odd_run.status) == (0.0, None, "stopped")
    assert len(compare_runs([folder / "odd"]).axes[0].lines) == 0
    assert (stopped.epochs, stopped.status, stopped.accuracy_split) == (1, "stopped", "test")
    assert stopped.accuracy == history["epochs"][0]["test_accuracy"]
    assert "broken" in caplog.text and "config.json" in caplog.text


def test_the_table_and_its_json(runs, capsys):
    code, out, err = run_cli(["runs", runs, "--sort=-lr"], capsys)
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["run", "hidden", "lr", "accuracy", "time", "epochs"]
    assert [row.split()[2] for row in rows] == ["0.03", "0.03", "0.003"]
    assert all(row.split()[-1] == "2/2" for row in rows)
    code, out, _ = run_cli(["runs", "list", runs, "--json"], capsys)
    data = json.loads(out)
    assert data["fields"] == ["hidden", "lr"] and len(data["runs"]) == 3
    assert data["runs"][0]["config"]["seed"] == 0 and "accuracy" in data["runs"][0]


def test_the_table_defaults_to_the_runs_folder(runs, capsys, monkeypatch):
    monkeypatch.chdir(runs.parent)
    code, out, _ = run_cli(["runs"], capsys)
    assert code == 0 and len(out.splitlines()) == 4
    monkeypatch.chdir(runs)
    code, _, err = run_cli(["runs"], capsys)
    assert code != 0 and err.strip() == "error: runs: no such folder; expected a folder " \
                                        "holding run folders"
    code, _, err = run_cli(["runs", ".", "--sort", "colour"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_the_table_imports_neither_matplotlib_nor_numba(runs):
    script = ("import sys\nfrom digitlab.cli import main\nmain(['runs', sys.argv[1]])\n"
              "print([m for m in ('matplotlib', 'numba') if m in sys.modules])\n")
    result = subprocess.run([sys.executable, "-c", script, str(runs)], capture_output=True,
                            text=True, check=True)
    assert result.stdout.splitlines()[-1] == "[]"


def test_compare_overlays_the_curves_of_the_runs(runs, capsys, tmp_path):
    figure = compare_runs([runs / "lr-small", runs / "wide"])
    loss, accuracy = figure.axes
    # 2 runs x (train, test) splits; each curve on both panels
    assert len(loss.lines) == len(accuracy.lines) == 4
    names = [t.get_text() for legend in figure.legends for t in legend.get_texts()]
    assert names == ["hidden=16, lr=0.003", "hidden=32, lr=0.03"]
    assert [t.get_text() for t in loss.get_legend().get_texts()] == ["train", "test"]
    out = tmp_path / "compare.png"
    code, printed, err = run_cli(["runs", "compare", runs / "lr-small", runs / "lr-large",
                                  "--out", out], capsys)
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(out) in printed
    code, _, err = run_cli(["runs", "compare", runs, "--out", tmp_path / "x.xyz"], capsys)
    assert code != 0 and "unknown file format" in err
    code, _, err = run_cli(["runs", "compare", tmp_path, "--out", out], capsys)
    assert code != 0 and f"{tmp_path}: no run folder there" in err


def test_a_runs_command_leaves_serve_runs_alone(capsys):
    code, out, _ = run_cli(["serve", "--help"], capsys)
    assert code == 0 and "--runs" in out
    code, out, _ = run_cli(["runs", "--help"], capsys)
    assert code == 0 and "compare" in out and "list" in out
