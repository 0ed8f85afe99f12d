"""Careless and hostile input: every failure is one line naming the file or value, no traceback,
a non-zero exit code, and nothing lost — no file changed, no run overwritten.

One test (or a small group) per case of the list these checks came from, numbered alike:
1 two trainings into one folder, 2 unwritable outputs, 3 model files that lie, 4 images that
are not PNG/JPEG or too large, 5 IDX files with a dimension of 0, 6 unverified files in the
download cache, 7 non-UTF-8 files and non-finite or huge values, 8 contradicting flags,
9 temporaries left by killed processes, 10 report.md escaping, 11 exact messages.

Most commands run in this process through ``digitlab.cli.main``, the console script's entry
point (an exception escaping it would fail the test, as a traceback would); the concurrent
training, the lock holder and the Pillow warning need real processes.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cli_runner import run_cli
from digitlab.config import TrainConfig
from digitlab.data.catalog import SPECS, RemoteFile
from digitlab.data.download import download_dataset
from digitlab.data.idx import encode_idx, gzip_deterministic, write_idx
from digitlab.errors import FolderInUse
from digitlab.modelio import MODEL_FILE, load_model, save_model
from digitlab.nn import MLP
from digitlab.reporting.document import Section, Table, render_markdown
from digitlab.runlock import HOLDER_FILE, LOCK_FILE, folder_lock
from digitlab.training import train

DIGITLAB = str(Path(sys.executable).with_name("digitlab"))
TINY = ["--hidden", "8", "--epochs", "1", "--max-train-samples", "100", "--quiet"]


# --- helpers ----------------------------------------------------------------------------------

@pytest.fixture
def cli(capsys):
    """Run ``digitlab ARGS`` in this process: (exit code, stdout, stderr)."""

    def run(*args) -> tuple[int, str, str]:
        capsys.readouterr()
        return run_cli(args, capsys)

    return run


def assert_refused(result, *names: object) -> str:
    """Exit code non-zero, stderr one line 'error: ...' naming each of ``names``."""
    code, _, err = result
    assert code not in (0, None), err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its content, to show that nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def digit_png(path: Path) -> Path:
    image = Image.new("L", (40, 40), 0)
    ImageDraw.Draw(image).line([(20, 5), (20, 35)], fill=255, width=4)  # a "1"
    image.save(path)
    return path


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def rebuild(path: Path, change, compression=zipfile.ZIP_STORED) -> None:
    """Rewrite the model zip at ``path``: ``change(entries, metadata)`` edits them in place."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(entries.pop("metadata.json"))
    change(entries, metadata)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("metadata.json", entries.pop("metadata.json", None)
                         or json.dumps(metadata))
        for name, data in entries.items():
            archive.writestr(name, data)


@pytest.fixture
def model(tmp_path) -> Path:
    """A small digit model (784-8-10) in a run folder of its own; returns the model file."""
    config = TrainConfig(hidden=[8], epochs=1, max_train_samples=100)
    net = MLP([784, 8, 10], ["tanh", "tanh"], rng=np.random.default_rng(0))
    return save_model(tmp_path / "run" / MODEL_FILE, net, config=config)


# --- 1. two trainings into one folder ---------------------------------------------------------

def test_1_two_trainings_into_one_new_folder_one_is_refused_the_other_intact(tmp_path):
    out = tmp_path / "run"
    # the reference engine: the race is for the folder, and two processes compiling the same
    # kernels into a cold cache took half a minute
    commands = [[DIGITLAB, "train", *TINY, "--max-train-samples", "3000", "--seed", str(seed),
                 "--engine", "reference", "--out", str(out)] for seed in (1, 2)]
    processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c in commands]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    codes = [code for code, _, _ in results]
    assert sorted(code == 0 for code in codes) == [False, True], results
    winner = codes.index(0)
    line = assert_refused(results[1 - winner], out)
    assert "in use by another digitlab process" in line or "already holds a run" in line
    assert json.loads((out / "config.json").read_text())["seed"] == winner + 1
    assert load_model(out).config.seed == winner + 1  # the model is the winner's, whole
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp") or p.name == HOLDER_FILE]


def _hold_lock(folder: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom digitlab.runlock import folder_lock\n"
         "with folder_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)\n",
         str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_1_a_held_run_folder_is_refused_naming_it_and_the_holder(cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    holder = _hold_lock(out)
    try:
        line = assert_refused(cli("train", *TINY, "--out", out), out, f"PID {holder.pid}")
        assert "in use" in line
        assert_refused(cli("report", "--quick", "--out", out), out, f"PID {holder.pid}")
        with pytest.raises(FolderInUse, match=f"PID {holder.pid}"):  # the library call too
            train(TrainConfig(hidden=[8], epochs=1, max_train_samples=100), run_dir=out)
    finally:
        holder.kill()
        holder.wait()
    assert not (out / MODEL_FILE).exists()


def test_1_the_lock_of_a_killed_process_does_not_block(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    holder = _hold_lock(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (out / HOLDER_FILE).read_text().split()[0] == str(holder.pid)  # left behind
    with folder_lock(out):
        assert (out / HOLDER_FILE).read_text().split()[0] == str(os.getpid())
        assert (out / LOCK_FILE).exists()
    assert not (out / HOLDER_FILE).exists()


# --- 2. outputs that cannot be written: refused before any work -------------------------------

def _immutable_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "immutable"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    return folder


def _read_only_folder(tmp_path: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "read-only"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    folder.chmod(0o555)
    return folder


COMMANDS = {
    "train": lambda model, out: ["train", *TINY, "--out", out],
    "analyze": lambda model, out: ["analyze", model, "--no-retrain", "--out", out],
    "dream": lambda model, out: ["dream", model, "--out", out],
    "data show": lambda model, out: ["data", "show", "--out", out / "digits.png"],
    "sweep": lambda model, out: ["sweep", "lr", "--out", out],
    "report": lambda model, out: ["report", "--quick", "--out", out],
    "data download": lambda model, out: ["data", "download", "mnist", "--cache-dir", out],
}


@pytest.mark.parametrize("place", ["through a file", "/proc", "immutable", "read-only"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_2_unwritable_output_is_refused_before_any_work(cli, tmp_path, model, command, place):
    if place == "through a file":
        blocker = tmp_path / "notes.txt"
        blocker.write_text("my notes")
        out, named, kept = blocker / "sub", blocker, tmp_path
    elif place == "/proc":
        out, named, kept = Path("/proc/digitlab-out"), "/proc", None
    else:
        folder = (_immutable_folder if place == "immutable" else _read_only_folder)(tmp_path)
        out, named, kept = folder / "out", folder, folder
    before = snapshot(kept) if kept else None
    try:
        code, stdout, err = cli(*COMMANDS[command](model, out))
    finally:
        if place == "immutable":
            subprocess.run(["chattr", "-i", str(out.parent)], check=True)
    assert_refused((code, stdout, err), named)
    assert stdout == ""  # nothing started: no run description, no epoch, no stage
    if kept:
        assert snapshot(kept) == before


def test_2_unknown_image_format_is_refused_before_reading(cli, tmp_path):
    line = assert_refused(cli("data", "show", "--out", tmp_path / "x.xyz"), "x.xyz")
    assert "unknown file format" in line and ".png" in line
    assert list(tmp_path.iterdir()) == []


# --- 3. model files that lie ------------------------------------------------------------------

def _predict(cli, model_path: Path, tmp_path: Path):
    return cli("predict", model_path, digit_png(tmp_path / "one.png"))


def test_3_an_array_header_claiming_2_to_the_40_elements(cli, tmp_path, model):
    def change(entries, metadata):
        header = npy(np.zeros((8, 784), np.float32))
        entries["params/W0.npy"] = header.replace(b"(8, 784)", b"(1048576, 1048576)", 1)

    rebuild(model, change)
    line = assert_refused(_predict(cli, model, tmp_path), model, "W0")
    assert "(1048576, 1048576)" in line and "expected (8, 784)" in line


def test_3_an_architecture_claiming_a_huge_layer(cli, tmp_path, model):
    rebuild(model, lambda entries, metadata: metadata["architecture"].update(
        sizes=[784, 2**40, 10]))
    assert "more than digitlab allows" in assert_refused(_predict(cli, model, tmp_path), model)


def test_3_deeply_nested_metadata(cli, tmp_path, model):
    def change(entries, metadata):
        entries["metadata.json"] = ("[" * 100_000 + "]" * 100_000).encode()

    rebuild(model, change)
    line = assert_refused(_predict(cli, model, tmp_path), model, "metadata.json")
    assert "nested 100,000 levels" in line


@pytest.mark.parametrize("content, words", [
    (b"[" * 100_000 + b"]" * 100_000, "nested 100,000 levels deep"),
    (b'{"accuracy": ' + b" " * 2_000_000 + b"0.5}", "larger than"),
    (b'{"accuracy": 0.5', "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_3_a_hostile_json_file_is_refused_by_the_bounded_reader(tmp_path, content, words):
    from digitlab.errors import DataError
    from digitlab.fileio import read_json

    path = tmp_path / "evaluation.json"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_json(path)
    message = str(caught.value)
    assert words in message and str(path) in message and "\n" not in message
    path.write_text('{"accuracy": 0.5, "per_digit": [[1], {"a": "]]]]"}]}')
    assert read_json(path)["accuracy"] == 0.5  # brackets inside strings do not count
    with pytest.raises(DataError, match="cannot be read"):
        read_json(tmp_path / "missing.json")


def test_3_a_compressed_member_inflating_far_beyond_the_model(cli, tmp_path, model):
    def change(entries, metadata):
        entries["extra/best_params.npy"] = npy(np.zeros(50_000_000 // 4, np.float32))
        metadata["arrays"]["extra/best_params.npy"] = {"shape": [12_500_000],
                                                       "dtype": "float32"}

    rebuild(model, change, compression=zipfile.ZIP_DEFLATED)
    assert model.stat().st_size < 1_000_000  # 50 MB of zeros in under 1 MB
    line = assert_refused(_predict(cli, model, tmp_path), model, "extra/best_params.npy")
    assert "more than the 65,536 this model's arrays may hold" in line


def test_3_a_member_the_metadata_does_not_list(cli, tmp_path, model):
    rebuild(model, lambda entries, metadata: entries.update({"notes/readme.txt": b"hi"}))
    line = assert_refused(_predict(cli, model, tmp_path), model, "notes/readme.txt")
    assert "unknown entry" in line


def test_3_a_model_with_100_inputs_for_predict_and_analyze(cli, tmp_path):
    net = MLP([100, 8, 10], ["tanh", "tanh"], rng=np.random.default_rng(0))
    path = save_model(tmp_path / "small" / MODEL_FILE, net)
    assert "100 inputs" in assert_refused(_predict(cli, path, tmp_path), path)
    out = tmp_path / "analysis"
    assert "100 inputs" in assert_refused(cli("analyze", path, "--no-retrain", "--out", out),
                                          path)
    assert not out.exists()


def test_3_an_ensemble_member_with_100_inputs_is_refused_when_joined(cli, tmp_path, model):
    config = TrainConfig(hidden=[8], epochs=1, max_train_samples=100)
    net = MLP([100, 8, 10], ["tanh", "tanh"], rng=np.random.default_rng(0))
    small = save_model(tmp_path / "small" / MODEL_FILE, net, config=config)
    out = tmp_path / "ensemble"
    line = assert_refused(cli("ensemble", model, small, "--out", out), small, "100 inputs")
    assert "784 inputs" in line and not out.exists()


# --- 4. images: PNG and JPEG only, and not too many pixels ------------------------------------

def _save_as(kind: str, path: Path) -> Path:
    image = Image.new("L", (40, 40), 0)
    ImageDraw.Draw(image).line([(20, 5), (20, 35)], fill=255, width=4)
    if kind == "eps":
        path.write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 40 40\n"
                        "0 0 moveto 40 40 lineto stroke showpage\n")
    else:
        image.save(path, format=kind)
    return path


@pytest.mark.parametrize("kind", ["BMP", "GIF", "TIFF", "eps"])
def test_4_other_formats_named_png_are_not_opened(cli, tmp_path, model, kind):
    image = _save_as(kind, tmp_path / "digit.png")
    before = image.read_bytes()
    line = assert_refused(cli("predict", model, image), image)
    assert "not a PNG or JPEG image" in line
    assert image.read_bytes() == before


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header announces width × height pixels (its data is never reached)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * (width + 1) * 16)  # a few rows; more would be a bomb
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))
    return path


def test_4_a_13000_by_13000_png_is_refused_in_one_line_without_pillow_warning(tmp_path, model):
    image = _png_header_only(tmp_path / "huge.png", 13_000, 13_000)
    result = subprocess.run([DIGITLAB, "predict", str(model), str(image)], text=True,
                            capture_output=True, timeout=60)
    line = assert_refused((result.returncode, result.stdout, result.stderr), image)
    assert "169,000,000 pixels" in line
    assert "DecompressionBomb" not in result.stderr


# --- 5. IDX files with a dimension of 0 ------------------------------------------------------

def _idx_folder(folder: Path, n_train: int, n_test: int = 5, compress=False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", np.zeros((n, 28, 28), np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n, dtype=np.uint8) % 10)
    return folder


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_5_idx_with_a_dimension_of_0(cli, tmp_path, compress):
    data = _idx_folder(tmp_path / "empty", 0, compress=compress)
    out = tmp_path / "run"
    line = assert_refused(cli("train", *TINY, "--data", data, "--out", out),
                          data / ("train-images-idx3-ubyte" + (".gz" if compress else "")))
    assert "holds no images" in line
    assert not out.exists()


# --- 6. the download cache uses only what it can verify ---------------------------------------

def test_6_raw_files_in_the_cache_are_not_used(cli, tmp_path):
    _idx_folder(tmp_path / "cache" / "mnist", 20)  # raw, unverifiable copies
    line = assert_refused(cli("data", "info", "mnist", "--cache-dir", tmp_path / "cache"),
                          tmp_path / "cache" / "mnist")
    assert "not used" in line and "verified by SHA-256" in line


def test_6_verified_gz_files_win_over_raw_copies_beside_them(cli, tmp_path, monkeypatch):
    folder = _idx_folder(tmp_path / "cache" / "mnist", 20, compress=True)
    files = tuple(RemoteFile(p.name, hashlib.sha256(p.read_bytes()).hexdigest())
                  for p in sorted(folder.iterdir()))
    monkeypatch.setitem(SPECS, "mnist", dataclasses.replace(SPECS["mnist"], files=files))
    _idx_folder(folder, 7)  # raw files with other contents beside the verified .gz files
    code, out, err = cli("data", "info", "mnist", "--cache-dir", tmp_path / "cache", "--json")
    assert code == 0, err
    described = json.loads(out)
    assert described["splits"]["train"]["images_shape"] == [20, 784]
    assert all(f["path"].endswith(".gz") for f in described["files"].values())
    assert "verified by SHA-256" in described["source"]


# --- 7. non-UTF-8 files, non-finite and huge values -------------------------------------------

NOT_UTF8 = b"lr = 0.1\n# caf\xe9 \xff\xfe\n"


def test_7_config_file_that_is_not_utf8(cli, tmp_path):
    config = tmp_path / "config.toml"
    config.write_bytes(NOT_UTF8)
    out = tmp_path / "run"
    line = assert_refused(cli("train", *TINY, "--config", config, "--out", out), config)
    assert "not UTF-8" in line
    assert not out.exists() and config.read_bytes() == NOT_UTF8


def test_7_a_config_that_never_ends(cli, tmp_path):
    out = tmp_path / "run"
    line = assert_refused(cli("train", "--config", "/dev/zero", "--out", out), "/dev/zero")
    assert "larger than 1,048,576 bytes" in line
    assert not out.exists()


def test_7_grid_file_that_is_not_utf8(cli, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_bytes(NOT_UTF8)
    out = tmp_path / "sweep"
    assert "not UTF-8" in assert_refused(cli("sweep", "--grid", grid, "--out", out), grid)
    assert not out.exists()


@pytest.mark.parametrize("value", ["inf", "1e400", "-inf", "nan"])
def test_7_non_finite_learning_rate(cli, tmp_path, value):
    out = tmp_path / "run"
    line = assert_refused(cli("train", *TINY, "--lr", value, "--out", out), "--lr", value)
    assert "finite" in line
    assert not out.exists()


def test_7_non_finite_learning_rate_in_a_grid_or_config(cli, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text("[grid]\nlr = [0.1, inf]\n")
    assert "finite" in assert_refused(cli("sweep", "--grid", grid, "--out", tmp_path / "s"),
                                      grid, "lr")
    config = tmp_path / "config.toml"
    config.write_text("lr = 1e400\n")
    assert "finite" in assert_refused(cli("train", "--config", config, "--out", tmp_path / "r"),
                                      config, "lr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "grid.toml"]


@pytest.mark.parametrize("hidden", ["100000000000", "60000,60000"])
def test_7_layer_widths_are_capped(cli, tmp_path, hidden):
    out = tmp_path / "run"
    line = assert_refused(cli("train", "--hidden", hidden, "--epochs", "1", "--out", out))
    assert "more than digitlab allows" in line and hidden.split(",")[0] in line
    assert not out.exists()


HOSTILE_TOML = {
    "a 5,001-digit integer": ("epochs = 1" + "0" * 5_000 + "\n", "a number of 5,001 digits"),
    "a 101-digit seed": ("seed = " + "9" * 101 + "\n", "a number of 101 digits"),
    "500 nested arrays": ("a = " + "[" * 500 + "]" * 500 + "\n", "nested 500 levels deep"),
    "500 nested tables": ("a = " + "{b = " * 500 + "1" + "}" * 500 + "\n",
                          "nested 500 levels deep"),
    "a key 100,000 tables deep": ("a" + ".a" * 99_999 + " = 1\n",
                                  "nested 100,000 levels deep"),
    "a table header 100,000 deep": ("[a" + ".a" * 99_999 + "]\nb = 1\n",
                                    "nested 100,000 levels deep"),
}


@pytest.mark.parametrize("case", list(HOSTILE_TOML))
@pytest.mark.parametrize("command", ["train --config", "sweep --grid"])
def test_7_huge_numbers_and_deep_nesting_in_toml(cli, tmp_path, command, case):
    """Python refuses to convert integers of over 4,300 digits and tomllib recurses once per
    level: the one TOML reader measures both first and names the file."""
    content, words = HOSTILE_TOML[case]
    if command == "sweep --grid":
        content = content.replace("epochs", "[grid]\nepochs").replace("seed", "[base]\nseed")
    path = tmp_path / "settings.toml"
    path.write_text(content)
    out = tmp_path / "out"
    line = assert_refused(cli(*command.split(), path, "--out", out), path)
    assert words in line and len(line) < 300
    assert not out.exists() and path.read_text() == content


def test_7_a_grid_of_a_million_trials_is_refused_before_it_is_expanded(cli, tmp_path):
    grid = tmp_path / "grid.toml"
    lrs = ", ".join(f"{0.001 * (k + 1):g}" for k in range(1000))
    grid.write_text(f"[grid]\nlr = [{lrs}]\nepochs = [{', '.join(map(str, range(1, 1001)))}]\n")
    out = tmp_path / "sweep"
    line = assert_refused(cli("sweep", "--grid", grid, "--seeds", "1", "--out", out), grid)
    assert "1,000,000 trials" in line and "1000 × 1000" in line and not out.exists()


def test_7_brackets_and_digits_inside_toml_strings_and_comments_do_not_count(tmp_path):
    from digitlab.config import load_toml

    path = tmp_path / "grid.toml"
    text = ('name = "' + "[" * 100 + "9" * 200 + '"  # ' + "{" * 100 + "\n"
            "note = '''" + "]" * 50 + "'''\n[grid]\nlr = [[0.1], [0.2]]\n")
    path.write_text(text)
    assert load_toml(path)["grid"]["lr"] == [[0.1], [0.2]]


def test_7_a_diverging_dream_stops_with_one_line_and_writes_nothing(cli, tmp_path, model):
    """Unclipped, a step size of 1e308 makes the image infinite at once: the dream stops, as a
    diverging training does, naming the digit, the step and the step size."""
    out = tmp_path / "dreams"
    line = assert_refused(cli("dream", model, "--plain", "--lr", "1e308", "--steps", "20",
                              "--no-progress", "--out", out), "diverged", "1e+308", "smaller lr")
    assert "digit" in line and not (out.exists() and any(out.iterdir()))
    # clipped to [0, 1] after every step (the default), the same step size stays finite
    code, _, err = cli("dream", model, "--lr", "1e308", "--steps", "20", "--digit", "3",
                       "--no-progress", "--out", out)
    assert code in (0, None) or "diverged" in err, err
    if code in (0, None):
        assert np.all(np.isfinite(np.load(out / "dreams.npy")))


# --- 8. contradicting flags -------------------------------------------------------------------

def test_8_report_quick_and_full_together(cli, tmp_path):
    out = tmp_path / "report"
    line = assert_refused(cli("report", "--quick", "--full", "--out", out), "--quick", "--full")
    assert not out.exists() and line


def test_8_retrain_and_no_retrain_together(cli, tmp_path, model):
    out = tmp_path / "analysis"
    line = assert_refused(cli("analyze", model.parent, "--retrain", "2", "--no-retrain",
                              "--out", out), "--retrain 2", "--no-retrain")
    assert "contradict" in line and not out.exists()


# --- 9. temporaries left by killed processes --------------------------------------------------

def test_9_stale_temporaries_in_a_run_folder_are_removed_by_the_next_run(cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    stale = [out / ".model.npz.k3j_x9qa.tmp", out / ".history.json.ab12cd34.tmp"]
    others = [out / "notes.tmp", out / ".model.npz.tmp", out / "keep.txt"]
    for path in stale + others:
        path.write_text("left over")
    code, _, err = cli("train", *TINY, "--out", out)
    assert code == 0, err
    assert not any(p.exists() for p in stale)
    assert all(p.read_text() == "left over" for p in others)  # not of our kind: kept


@pytest.mark.parametrize("command", ["export", "data show"])
def test_9_a_killed_writers_temporary_is_removed_by_the_next_write_to_that_path(
        cli, tmp_path, model, command):
    """A file written alone (not in a locked folder) leaves ``.NAME.PID.XXXXXXXX.tmp`` when its
    writer is killed; the next write to that path removes it, not those of live writers."""
    if command == "export":
        pytest.importorskip("onnx")
    target = tmp_path / ("model.onnx" if command == "export" else "digits.png")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    killed = tmp_path / f".{target.name}.{int(ended.stdout)}.k3j_x9qa.tmp"
    killed.write_bytes(b"\0" * 4_000_000)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            writing = tmp_path / f".{target.name}.{live.pid}.ab12cd34.tmp"
            writing.write_bytes(b"half")
            args = (["export", model, "--out", target] if command == "export" else
                    ["data", "show", "--out", target])
            code, _, err = cli(*args)
            assert code in (0, None), err
        finally:
            live.kill()
    assert target.is_file() and not killed.exists() and writing.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == \
        [writing.name]


def test_9_stale_part_files_in_the_cache_are_removed_by_the_next_download(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    data = b"a published file"
    (folder / "x.gz").write_bytes(data)  # already verified: nothing to fetch
    stale = folder / ".x.gz.q1w2e3r4.part"
    stale.write_bytes(b"half a download")
    files = [RemoteFile("x.gz", hashlib.sha256(data).hexdigest(), len(data))]
    assert download_dataset("mnist", tmp_path, mirrors=(), files=files) == folder
    assert sorted(p.name for p in folder.iterdir() if p.name != LOCK_FILE) == ["x.gz"]


def _descendants(pid: int) -> set[int]:
    """The living processes below ``pid`` (from /proc; zombies count as ended)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            children.setdefault(int(parent), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


SLOW_GRID = """
[base]
hidden = [64]
epochs = 200
max_train_samples = 2000
[grid]
lr = [0.01, 0.02]
"""


def _sweep_with_workers(tmp_path: Path) -> tuple[subprocess.Popen, set[int]]:
    """A `digitlab sweep` of two long trials on two workers, once both workers run."""
    grid = tmp_path / "grid.toml"
    grid.write_text(SLOW_GRID)
    sweep = subprocess.Popen(
        [DIGITLAB, "sweep", "--grid", str(grid), "--seeds", "1", "--workers", "2",
         "--out", str(tmp_path / "sweep"), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and sweep.poll() is None:
        workers = {pid for pid in _descendants(sweep.pid)
                   if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()}
        if len(workers) >= 3:  # the resource tracker and two spawned workers
            break
        time.sleep(0.1)
    if len(workers) < 3:
        below = _descendants(sweep.pid)
        sweep.kill()
        _, err = sweep.communicate()
        _assert_all_end(below)
        pytest.fail(f"the sweep started no workers: {err.decode()}")
    time.sleep(3)  # the workers import, start their initializers and begin training
    return sweep, _descendants(sweep.pid)


def _assert_all_end(pids: set[int], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    left = [pid for pid in pids if _alive(pid)]
    for pid in left:  # leave nothing running, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left running after the sweep ended: {left}"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_9_a_killed_sweep_leaves_no_worker_running(tmp_path, how):
    sweep, below = _sweep_with_workers(tmp_path)
    try:
        sweep.send_signal(getattr(signal, how))
        _, err = sweep.communicate(timeout=15)  # its pipe closes: no worker holds it open
    finally:
        sweep.kill()
        sweep.wait()
        _assert_all_end(below)  # and ends whatever is left, whatever the outcome
    if how == "SIGTERM":
        lines = err.decode().strip().splitlines()
        assert sweep.returncode == 1 and len(lines) == 1, err.decode()
        assert "stopped by SIGTERM" in lines[0] and "Traceback" not in err.decode()


def test_9_a_full_disk_names_the_file_being_written(tmp_path):
    import errno

    from digitlab.fileio import atomic_write

    target = tmp_path / "evaluation.json"
    with pytest.raises(OSError) as caught:
        with atomic_write(target, "w") as handle:
            handle.write("{")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a full disk's write
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


# --- 10. report.md is escaped -----------------------------------------------------------------

def test_10_report_markdown_escapes_what_it_quotes():
    hostile = "/data/<script>alert(1)</script>/*x*"
    section = Section("data", "The data", f"Source: IDX files in {hostile}",
                      findings=[f"Read from {hostile}."],
                      tables=[Table(["folder"], [[hostile]], caption=hostile)])
    text = render_markdown("Report", f"dataset {hostile}", [section])
    assert "<script>" not in text and "*x*" not in text
    assert text.count("&lt;script&gt;") == 5


# --- 11. exact messages -----------------------------------------------------------------------

def test_11_trailing_bytes_inside_a_gzip_stream_are_counted(cli, tmp_path):
    data = _idx_folder(tmp_path / "data", 10)
    images = data / "train-images-idx3-ubyte"
    images.write_bytes(gzip_deterministic(encode_idx(np.zeros((10, 28, 28), np.uint8))
                                          + b"\x00" * 8))
    line = assert_refused(cli("data", "info", "--data", data), images)
    assert "found 8 unexpected trailing bytes" in line
    assert gzip.decompress(images.read_bytes())  # the file itself is untouched and readable


def test_11_sizes_given_as_a_string_in_metadata(cli, tmp_path, model):
    rebuild(model, lambda entries, metadata: metadata["architecture"].update(sizes="87"))
    line = assert_refused(_predict(cli, model, tmp_path), model, "'87'")
    assert "('8', '7')" not in line and "list of at least two" in line
