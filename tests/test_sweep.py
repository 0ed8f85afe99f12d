"""``digitlab sweep``: studies and grids expanded into trials, the local process pool, the
results store (resume, failures), the summary over seeds, the figures and the command line.

Every trial here is tiny (a hidden layer of 8, 1-3 epochs, the first 300 training images), so a
whole sweep takes a second or two, most of it starting the worker processes.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlab.cli import main
from digitlab.config import TrainConfig
from digitlab.data import write_idx
from digitlab.errors import ConfigError, DigitlabError
from digitlab.studies.definitions import (
    ACTIVATIONS,
    DEFAULT_LR,
    OPTIMIZERS,
    QUICK,
    Scale,
    builtin_study,
    load_grid,
    study_base,
)
from digitlab.studies.results import StudiesSummary
from digitlab.studies.runner import plan_studies, run_studies
from digitlab.studies.store import TrialStore
from digitlab.studies.summary import mean_std
from digitlab.studies.trials import DataSource, Trial, run_trial

TINY = Scale(width=8, epochs=1, max_epochs=3, max_train_samples=300, lrs=(0.01, 0.1),
             layers=(0, 1), neurons=(8, 16))

#: A grid of four tiny trials per seed; lr 1e3 with linear units and squared error overflows.
DIVERGING_GRID = """
name = "diverge"
[base]
hidden = [8]
activation = "linear"
output_activation = "linear"
loss = "mse"
optimizer = "sgd"
epochs = 1
max_train_samples = 300
[grid]
lr = [0.01, 1000]
batch_size = [32, 64]
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---------------------------------------------------------------------- studies and grids
def test_builtin_studies_cover_activations_optimizers_and_seeds():
    base = study_base(QUICK)
    assert (base.output_activation, base.loss, base.batch_size) == ("softmax", "ce", 32)
    plan = builtin_study("lr", base, QUICK, seeds=3)
    assert len(plan.trials) == len(ACTIVATIONS) * len(OPTIMIZERS) * len(QUICK.lrs) * 3
    assert len({trial.key for trial in plan.trials}) == len(plan.trials)
    combos = {(t.config.activation, t.config.optimizer, t.config.lr, t.config.seed)
              for t in plan.trials}
    assert len(combos) == len(plan.trials)
    layers = builtin_study("layers", base, QUICK, seeds=1)
    assert sorted({len(t.config.hidden) for t in layers.trials}) == list(QUICK.layers)
    assert {t.config.lr for t in layers.trials if t.config.optimizer == "sgd"} == {
        DEFAULT_LR["sgd"]}
    with pytest.raises(ConfigError, match="unknown study 'depth'"):
        builtin_study("depth", base)


def test_epochs_study_is_one_run_per_activation_optimizer_seed():
    plan = builtin_study("epochs", study_base(TINY), TINY, seeds=2)
    assert len(plan.trials) == len(ACTIVATIONS) * len(OPTIMIZERS) * 2
    assert {t.config.epochs for t in plan.trials} == {TINY.max_epochs}


def test_grid_file_is_a_cartesian_product(tmp_path):
    grid = write(tmp_path / "g.toml", """
[base]
hidden = "16,8"
epochs = 2
[grid]
optimizer = ["sgd", "adam"]
activation = ["tanh", "relu", "swish"]
momentum = [0, 0.5]
""")
    with pytest.raises(ConfigError, match="momentum applies to optimizer 'sgd' only"):
        load_grid(grid, study_base(TINY))  # adam with momentum 0.5 is not a valid combination
    grid.write_text(grid.read_text().replace('["sgd", "adam"]', '["sgd"]'))
    plan = load_grid(grid, study_base(TINY), seeds=2)
    assert plan.name == "g" and plan.parameter == "momentum"  # the first numeric key
    assert plan.series_keys == ("activation",)
    assert len(plan.trials) == 3 * 2 * 2
    config = plan.trials[0].config
    assert config.hidden == [16, 8] and config.epochs == 2 and config.lr == DEFAULT_LR["sgd"]
    assert isinstance(config.momentum, float)  # TOML's 0 is the same trial as 0.0


@pytest.mark.parametrize("text, message", [
    ("[grid]\nlearning_rate = [0.1]\n", "unknown key grid.learning_rate"),
    ("[base]\nneurons = 5\n[grid]\nlr = [0.1]\n", "unknown key base.neurons"),
    ("[grid]\nactivation = ['tanh', 'tanhh']\n", "grid.activation = 'tanhh'"),
    ("[grid]\nlr = [0.1, -1]\n", "grid.lr = -1"),
    ("[grid]\nepochs = 3\n", "grid.epochs = 3: expected a non-empty list"),
    ("[grid]\nhidden = ['64,x']\n", "grid.hidden = '64,x'"),
    ("[grid]\nseed = [1, 2]\n", "grid.seed"),
    ("[base]\nlr = 'fast'\n[grid]\nepochs = [1]\n", "base.lr = 'fast'"),
    ("[grids]\nlr = [0.1]\n", "unknown key 'grids'"),
    ("[grid\nlr = [0.1]\n", "not valid TOML"),
])
def test_bad_grid_fails_before_any_trial_with_one_line(tmp_path, capsys, text, message):
    grid = write(tmp_path / "bad.toml", text)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--grid", str(grid), "--out", str(out), "--no-progress"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert str(grid) in err and message in err
    assert "Traceback" not in err
    assert not (out / "trials").exists()  # nothing ran


def test_options_are_checked(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="--address needs --executor ray"):
        run_studies(["lr"], tmp_path, address="127.0.0.1:6379")
    with pytest.raises(ConfigError, match="executor must be one of local, ray"):
        run_studies(["lr"], tmp_path, executor="dask")
    with pytest.raises(ConfigError, match="seeds must be a positive integer"):
        plan_studies(["lr"], seeds=0)
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(DigitlabError, match=r"pip install 'digitlab\[ray\]'"):
        run_studies(["lr"], tmp_path, executor="ray", scale=TINY, seeds=1)
    assert not (tmp_path / "trials").exists()


def test_trial_key_is_the_full_config_with_seed_and_data():
    config = study_base(TINY)
    trial = Trial(config, "lr", "lr", 0.1)
    assert trial.key == config.key()
    assert Trial(config.replace(seed=1), "lr", "lr", 0.1).key != trial.key
    other_study = Trial(config, "neurons", "neurons", 8, {"activation": "tanh"})
    assert other_study.key == trial.key  # a config two studies share is trained once
    assert Trial(config, "lr", "lr", 0.1, data=DataSource("/data/a")).key != trial.key


def test_run_trial_is_deterministic_and_epochs_match_a_longer_run():
    config = study_base(TINY).replace(activation="relu", epochs=1)
    one = run_trial(Trial(config, "s", "epochs", 1))
    again = run_trial(Trial(config, "s", "epochs", 1))
    three = run_trial(Trial(config.replace(epochs=3), "s", "epochs", 3))
    assert one["status"] == "ok" and one["error"] is None
    assert one["test_accuracy"] == again["test_accuracy"]
    # The network after epoch 1 of a 3-epoch run is the network trained for 1 epoch.
    assert three["history"][0]["test_accuracy"] == one["test_accuracy"]
    assert three["history"][0]["train_accuracy"] == one["train_accuracy"]
    assert [record["epoch"] for record in three["history"]] == [1, 2, 3]
    assert three["test_accuracy"] == three["history"][-1]["test_accuracy"]


def test_mean_std_over_seeds():
    mean, std = mean_std([0.5, 0.7, None, 0.9])  # None: a failed seed, not averaged
    assert mean == pytest.approx(0.7)
    assert std == pytest.approx(0.2)  # sample std: sqrt((0.04 + 0 + 0.04) / 2)
    assert mean_std([0.8]) == (0.8, None)
    assert mean_std([None]) == (None, None)


# ---------------------------------------------------------------------- whole sweeps
def test_failed_trials_are_recorded_and_resume_runs_only_missing_trials(tmp_path):
    grid = write(tmp_path / "diverge.toml", DIVERGING_GRID)
    out = tmp_path / "out"
    first = run_studies([], out, grid_file=grid, seeds=2, workers=2, progress=False)
    assert (first.ran, first.skipped, first.failed) == (8, 0, 4)
    failed = [row for row in first.rows if row["status"] == "failed"]
    assert {row["config"]["lr"] for row in failed} == {1000.0}
    assert all(row["error"].startswith("TrainingDiverged: ") for row in failed)
    assert all(row["test_accuracy"] is None for row in failed)
    ok = [row for row in first.rows if row["status"] == "ok"]
    assert len(ok) == 4 and all(0.0 < row["test_accuracy"] <= 1.0 for row in ok)

    store = TrialStore(out)
    stamps = {key: store.path(key).stat().st_mtime_ns for key in store.keys()}
    assert len(stamps) == 8
    second = run_studies([], out, grid_file=grid, seeds=2, workers=2, progress=False)
    assert (second.ran, second.skipped) == (0, 8)  # failed trials diverge again: not re-run
    assert {key: store.path(key).stat().st_mtime_ns for key in store.keys()} == stamps
    assert [r["test_accuracy"] for r in second.rows] == [r["test_accuracy"] for r in first.rows]

    # An interrupted sweep loses only the trials that were running: they run again, alone.
    lost = ok[0]["key"]
    store.path(lost).unlink()
    third = run_studies([], out, grid_file=grid, seeds=2, workers=2, progress=False)
    assert (third.ran, third.skipped) == (1, 7)
    assert store.path(lost).stat().st_mtime_ns > max(stamps.values())
    assert [r["test_accuracy"] for r in third.rows] == [r["test_accuracy"] for r in first.rows]

    summary = json.loads((out / "summary.json").read_text())
    points = summary["studies"]["diverge"]["points"]
    assert {(p["value"], p["failed"], p["n"]) for p in points} == {(0.01, 0, 2), (1000.0, 2, 0)}
    assert all("TrainingDiverged" in p["errors"][0] for p in points if p["failed"])
    typed = StudiesSummary.from_result(third)
    assert typed.to_dict()["studies"] == summary["studies"] == third.studies
    assert typed == StudiesSummary.from_dict(json.loads(json.dumps(typed.to_dict())))
    assert (typed.trials, typed.failed) == (8, 4) and typed.figures == {
        "diverge": str(out / "diverge.png")}
    ranked = typed.studies["diverge"].best_points()  # one series per batch size
    assert len(ranked) == 2 and all(p.value == 0.01 and p.n == 2 for _, p in ranked)


def test_epochs_study_sweep_writes_tables_summary_and_figure(tmp_path):
    out = tmp_path / "out"
    result = run_studies(["epochs"], out, seeds=2, workers=2, scale=TINY, progress=False)
    n_runs = len(ACTIVATIONS) * len(OPTIMIZERS) * 2
    assert result.ran == n_runs  # one run per activation × optimizer × seed, not × epochs
    assert len(TrialStore(out).keys()) == n_runs

    study = result.studies["epochs"]
    assert study["per_epoch"] and len(study["points"]) == 8 * TINY.max_epochs
    for point in study["points"]:
        assert point["n"] == 2 and point["failed"] == 0
        rows = [r for r in result.rows if r["series"] == point["series"]]
        values = [r["history"][point["value"] - 1]["test_accuracy"] for r in rows]
        assert point["test_accuracy_mean"] == pytest.approx(sum(values) / 2)
        assert point["test_accuracy_std"] == pytest.approx(abs(values[0] - values[1]) / 2 ** .5)

    with open(out / "trials.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == n_runs
    for column in ("study", "key", "activation", "optimizer", "hidden", "epochs", "lr", "seed",
                   "status", "error", "train_accuracy", "test_accuracy", "seconds"):
        assert column in table[0]
    assert {row["seed"] for row in table} == {"0", "1"} and table[0]["hidden"] == "8"
    assert math.isclose(float(table[0]["test_accuracy"]), result.rows[0]["test_accuracy"])
    trials = json.loads((out / "trials.json").read_text())["trials"]
    assert len(trials) == n_runs and len(trials[0]["history"]) == TINY.max_epochs
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["seeds"], summary["trials"], summary["figures"]) == (
        2, n_runs, {"epochs": "epochs.png"})
    with Image.open(out / "epochs.png") as image:
        assert image.format == "PNG" and image.width > 800


def test_cli_sweep_prints_a_table(tmp_path, capsys):
    grid = write(tmp_path / "small.toml", """
[base]
hidden = [8]
epochs = 1
max_train_samples = 300
[grid]
activation = ["tanh", "relu"]
lr = [0.001, 0.01]
""")
    main(["sweep", "--grid", str(grid), "--seeds", "1", "--workers", "2", "--no-progress",
          "--out", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert "Accuracy versus lr (small.toml)" in printed
    header = next(line for line in printed.splitlines() if line.lstrip().startswith("lr "))
    assert header.split() == ["lr", "tanh", "relu"]
    assert "4 trials: 4 run now, 0 already done, 0 failed" in printed
    assert (tmp_path / "out" / "small.png").is_file()


def test_sweep_on_a_data_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "digits"
    for prefix, n in (("train", 200), ("t10k", 50)):  # an official test split of 50 images
        write_idx(folder / f"{prefix}-images-idx3-ubyte",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    grid = write(tmp_path / "one.toml", "[base]\nhidden = [8]\nepochs = 1\n[grid]\nlr = [0.01]\n")
    out = tmp_path / "out"
    result = run_studies([], out, grid_file=grid, data_dir=folder, seeds=1, workers=1,
                       progress=False)
    (row,) = result.rows
    assert row["status"] == "ok" and row["config"]["dataset"] == "digits"
    assert (row["test_accuracy"] * 50).is_integer()  # measured on the folder's 50 test images
    assert row["key"] != TrainConfig.from_dict(row["config"]).key()  # the folder is in the key
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data_dir"] == str(folder.resolve()) and summary["dataset"] == "digits"
    with pytest.raises(DigitlabError, match="missing"):  # a folder without data: before any run
        run_studies([], tmp_path / "out2", grid_file=grid, data_dir=tmp_path, seeds=1)
    assert not (tmp_path / "out2").exists()
