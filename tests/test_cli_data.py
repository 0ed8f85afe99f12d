"""``digitlab data info|show|download`` and the shared dataset options."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from digitlab.cli import cli
from digitlab.cli.common import dataset_options, load_dataset_from_options
from digitlab.data import write_idx
from digitlab.data.catalog import SPECS, RemoteFile
from digitlab.runlock import LOCK_FILE
from test_download import FILES, Server  # the local HTTP server of the download tests


def run(*args: str):
    result = CliRunner().invoke(cli, ["data", *args], catch_exceptions=False)
    return result


def make_folder(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 10)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    return folder


def test_info_text():
    result = run("info")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("mnist-sample: 10,000 MNIST training digits")
    assert "held out, 10 % of each class (stratified, seed 0)" in out
    assert "train images (9001, 784) float32" in out
    total = next(line for line in out.splitlines() if line.startswith("total")).split()
    assert total == ["total", "9,001", "0", "999"]
    assert "train_images" in out and "SHA-256" in out


def test_info_json():
    result = run("info", "mnist-sample", "--json", "--seed", "3")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["seed"] == 3
    counts = np.sum([s["counts"] for s in info["splits"].values()], axis=0)
    assert counts.tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert len(info["files"]["train_labels"]["sha256"]) == 64


def test_info_of_a_folder(tmp_path):
    folder = make_folder(tmp_path / "my-digits")
    result = run("info", "--data", str(folder), "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["name"] == "my-digits" and info["test_is_official"]
    assert info["splits"]["test"]["images_shape"] == [10, 784]


def test_show_writes_a_png_and_nothing_else(tmp_path):
    out = tmp_path / "figs" / "digits.png"
    result = run("show", "--per-digit", "4", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(out.parent) == ["digits.png"]  # the temporary file was renamed


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_show_fashion_test_split(tmp_path):
    out = tmp_path / "fashion.png"
    result = run("show", "fashion-mnist", "--split", "test", "--per-digit", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000


def test_help_shows_defaults():
    result = run("show", "--help")
    text = " ".join(result.output.split())
    assert "[default: train]" in text and "[default: 10;" in text
    assert "[default: 30.0" in run("download", "--help").output


def test_download_command(tmp_path, monkeypatch):
    server = Server()
    try:
        mirror = server.serve("mnist", FILES)
        files = tuple(RemoteFile(n, hashlib.sha256(d).hexdigest(), len(d)) for n, d in
                      FILES.items())
        monkeypatch.setitem(SPECS, "mnist",
                            dataclasses.replace(SPECS["mnist"], mirrors=(mirror,), files=files))
        result = run("download", "mnist", "--cache-dir", str(tmp_path), "--timeout", "5")
    finally:
        server.close()
    assert result.exit_code == 0, result.output
    assert sorted(set(os.listdir(tmp_path / "mnist")) - {LOCK_FILE}) == sorted(FILES)
    info = json.loads(run("info", "mnist", "--cache-dir", str(tmp_path), "--json").output)
    assert info["splits"]["train"]["images_shape"] == [30, 784]


def test_download_rejects_the_embedded_sample():
    result = CliRunner().invoke(cli, ["data", "download", "mnist-sample"])
    assert result.exit_code == 2 and "Invalid value" in result.output


def test_missing_dataset_is_one_line_error_exit_1(tmp_path):
    env = {**os.environ, "DIGITLAB_CACHE": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "digitlab", "data", "info", "mnist"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: mnist is not available locally")
    assert "digitlab data download mnist" in lines[0]


def test_dataset_options_decorator(tmp_path):
    seen = {}

    @click.command()
    @dataset_options
    def command(dataset, data_dir):
        seen.update(dataset=dataset, data_dir=data_dir)
        seen["ds"] = load_dataset_from_options(dataset, data_dir, require=("train",))

    runner = CliRunner()
    help_text = " ".join(runner.invoke(command, ["--help"]).output.split())  # unwrap lines
    assert "--dataset [mnist-sample|mnist|fashion-mnist]" in help_text
    assert "default: mnist-sample" in help_text and "--data DIR" in help_text

    result = runner.invoke(command, [], catch_exceptions=False)
    assert result.exit_code == 0 and seen["dataset"] == "mnist-sample"
    assert seen["data_dir"] is None and seen["ds"].name == "mnist-sample"

    folder = make_folder(tmp_path / "f")
    result = runner.invoke(command, ["--data", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0 and seen["dataset"] is None and seen["ds"].name == "f"
    result = runner.invoke(command, ["--dataset", "fashion-mnist", "--data", str(folder)],
                           catch_exceptions=False)
    assert result.exit_code == 0
    assert seen["data_dir"] == folder and seen["ds"].class_names[0] == "T-shirt/top"

    result = runner.invoke(command, ["--data", str(tmp_path / "absent")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(command, ["--dataset", "cifar"])
    assert result.exit_code == 2
