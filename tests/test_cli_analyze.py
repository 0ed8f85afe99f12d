"""``digitlab analyze``: the saved config reproduces the test split, every output is written,
--data overrides the dataset, and user errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from digitlab.analysis import FIGURES
from digitlab.cli import main
from digitlab.config import TrainConfig
from digitlab.data import load_dataset, write_idx
from digitlab.training import train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> tuple[Path, float]:
    """A tiny network trained with seed 3, so its test split is not the default seed 0's."""
    folder = tmp_path_factory.mktemp("run")
    config = TrainConfig(hidden=[32], epochs=1, max_train_samples=800, batch_size=10, seed=3)
    result = train(config, load_dataset(seed=3), progress=False, run_dir=folder)
    return folder, result.history.final["test_accuracy"]


def analyze(*args: str) -> None:
    main(["analyze", *args])


def test_cli_writes_everything_on_the_saved_test_split(run_dir, tmp_path, capsys):
    folder, test_accuracy = run_dir
    out = tmp_path / "analysis"
    analyze(str(folder), "--retrain", "2", "--retrain-epochs", "1", "--nondigits", "30",
            "--no-progress", "--out", str(out))
    printed = capsys.readouterr().out
    analysis = json.loads((out / "analysis.json").read_text())
    # the same split the network was tested on while training (seed 3, test fraction 0.1)
    assert analysis["accuracy"] == pytest.approx(test_accuracy)
    assert analysis["model"]["config"]["seed"] == 3
    assert sorted(analysis["figures"].values()) == sorted(f.file for f in FIGURES.values())
    assert all((out / f.file).stat().st_size > 10_000 for f in FIGURES.values())
    assert analysis["retraining"]["seeds"] == [1, 2]  # 3 is the analysed run's own seed
    assert analysis["retraining"]["epochs"] == 1
    assert all(0 <= k["auroc"] <= 1 for k in analysis["nondigits"].values())
    assert f"- {analysis['findings'][0]}" in printed and "wrote" in printed


def make_folder(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 20)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    return folder


def test_cli_data_folder_overrides_the_dataset(run_dir, tmp_path):
    folder, _ = run_dir
    data = make_folder(tmp_path / "idx")
    analyze(str(folder), "--data", str(data), "--no-retrain", "--nondigits", "10",
            "--out", str(tmp_path / "out"))
    analysis = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert analysis["n_test"] == 20 and analysis["dataset"]["n_train"] == 40
    assert analysis["retraining"] is None
    assert "retraining" not in analysis["figures"]


def test_cli_damaged_model_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(SystemExit) as exit_info:
        analyze(str(bad), "--out", str(tmp_path / "out"))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "model.npz" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_needs_an_output_folder(run_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        analyze(str(run_dir[0]))
    assert exit_info.value.code == 2
    assert "--out" in capsys.readouterr().err
