"""The train, evaluate, predict and summary commands, run as a user would."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

import digitlab.training as train_module
from digitlab.api import run_config
from digitlab.cli import main
from digitlab.errors import ConfigError
from digitlab.modelio import load_model

TINY = ["--max-train-samples", "200", "--hidden", "8", "--trace-every", "100"]


def run(args, capsys):
    """Run ``digitlab ARGS`` in-process: (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err


# ------------------------------------------------------------------ invalid values
@pytest.mark.parametrize("flags,named", [
    (["--lr", "-1"], "lr"),
    (["--lr", "abc"], "--lr"),
    (["--activation", "foo"], "activation"),
    (["--hidden", "a,b"], "hidden"),
    (["--hidden", "0,-3"], "hidden"),
    (["--epochs", "0"], "epochs"),
    (["--batch-size", "1.5"], "--batch-size"),
    (["--loss", "ce"], "softmax"),
    (["--momentum", "1.2"], "momentum"),
    (["--preset", "nope"], "nope"),
    (["--optimizer", "adam", "--nesterov", "--momentum", "0.9"], "nesterov"),
])
def test_invalid_values_fail_at_once_with_one_line(tmp_path, capsys, flags, named):
    code, out, err = run(["train", *flags, "--out", str(tmp_path / "run")], capsys)
    assert code == 2
    assert_one_line_error(err)
    assert named in err
    assert not (tmp_path / "run").exists()  # nothing was started


def test_invalid_value_in_a_fresh_process_has_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "digitlab", "train", "--lr", "-1", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert_one_line_error(done.stderr)


def test_missing_out_and_existing_run(tmp_path, capsys):
    code, _, err = run(["train", "--epochs", "1"], capsys)
    assert code == 2 and "--out" in err
    (tmp_path / "model.npz").write_bytes(b"")
    (tmp_path / "evaluation.json").write_text("{}")
    code, _, err = run(["train", *TINY, "--out", str(tmp_path)], capsys)
    assert code == 2 and "--resume" in err
    code, _, _ = run(["train", *TINY, "--epochs", "1", "-q", "--overwrite", "--out",
                      str(tmp_path)], capsys)
    assert code == 0 and load_model(tmp_path).metadata["epoch"] == 1
    assert json.loads((tmp_path / "evaluation.json").read_text())["epochs"] == 1


def test_flags_override_the_toml_file_which_overrides_the_preset(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('[train]\nlr = 0.05\nepochs = 1\nactivation = "relu"\n')
    config = run_config(toml, preset="assignment", lr=0.02)
    assert (config.lr, config.epochs, config.activation) == (0.02, 1, "relu")
    assert config.hidden == [784] and config.seed == 0  # from the preset
    report = run_config(toml, preset="report")
    assert report.hidden == [1024, 1024] and report.lr == 0.05
    toml.write_text("lr = -3\n")
    with pytest.raises(ConfigError, match=r"run.toml.*lr"):
        run_config(toml)


# ------------------------------------------------------------------ a real small run
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``digitlab train --max-train-samples 500 --epochs 1 --hidden 32`` into a run folder."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    main(["train", "--max-train-samples", "500", "--epochs", "1", "--hidden", "32",
          "--out", str(run_dir)])
    return run_dir


def test_train_writes_every_file(trained):
    for name in ("model.npz", "config.json", "history.csv", "history.json", "trace.csv",
                 "curves.png", "evaluation.json"):
        assert (trained / name).is_file(), name
    config = json.loads((trained / "config.json").read_text())
    assert config["hidden"] == [32] and config["max_train_samples"] == 500
    assert (trained / "history.csv").read_text().count("\n") == 2  # header + 1 epoch
    with Image.open(trained / "curves.png") as curves:
        assert curves.format == "PNG" and curves.width > 600 and curves.height > 400
    evaluation = json.loads((trained / "evaluation.json").read_text())
    assert evaluation["n"] == 999 and np.sum(evaluation["confusion_matrix"]) == 999
    assert 0.5 < evaluation["accuracy"] <= 1.0
    history = json.loads((trained / "history.json").read_text())
    assert evaluation["accuracy"] == pytest.approx(history["epochs"][-1]["test_accuracy"])


def test_train_prints_summary_epochs_and_result(tmp_path, capsys):
    code, out, _ = run(["train", *TINY, "--epochs", "2", "--out", str(tmp_path)], capsys)
    assert code == 0
    assert f"{784 * 8 + 8 * 10:,}" in out  # total parameters in the summary table
    assert "epoch 1/2" in out and "epoch 2/2" in out and "test E" in out
    assert "Test accuracy" in out


def test_evaluate_json_reproduces_the_training_split(trained, capsys):
    code, out, _ = run(["evaluate", str(trained), "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    confusion = np.array(result["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == result["n"] == 999
    assert result["accuracy"] == pytest.approx(np.trace(confusion) / 999)
    saved = json.loads((trained / "evaluation.json").read_text())
    assert result["accuracy"] == saved["accuracy"]  # the same test split as during training
    assert len(result["per_digit_accuracy"]) == 10


def test_evaluate_prints_tables(trained, capsys):
    code, out, _ = run(["evaluate", str(trained / "model.npz")], capsys)
    assert code == 0
    assert "accuracy" in out and "confusion matrix" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) >= 10


def draw_one(path, white_on_black):
    ink, paper = (255, 0) if white_on_black else (0, 255)
    image = Image.new("L", (90, 120), paper)
    draw = ImageDraw.Draw(image)
    draw.line((48, 10, 45, 110), fill=ink, width=9)  # a slightly slanted "1"
    draw.line((48, 10, 36, 24), fill=ink, width=5)
    image.save(path)
    return path


def test_predict_gives_probabilities_that_sum_to_one(trained, tmp_path, capsys):
    images = [draw_one(tmp_path / "white.png", True), draw_one(tmp_path / "black.png", False)]
    code, out, _ = run(["predict", str(trained), *map(str, images), "--json"], capsys)
    assert code == 0
    predictions = json.loads(out)["predictions"]
    assert [p["image"] for p in predictions] == [str(p) for p in images]
    for p in predictions:
        assert len(p["probabilities"]) == 10
        assert sum(p["probabilities"]) == pytest.approx(1.0, abs=1e-5)
        assert p["digit"] == int(np.argmax(p["probabilities"]))
    # same stroke, opposite polarity: prepared identically, so read identically
    assert predictions[0]["probabilities"] == pytest.approx(predictions[1]["probabilities"],
                                                            abs=1e-6)
    code, out, _ = run(["predict", str(trained), *map(str, images)], capsys)
    assert code == 0 and "white.png" in out and "black.png" in out


def test_predict_refuses_a_non_image(trained, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    code, _, err = run(["predict", str(trained), str(bad)], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert "bad.png" in err


def test_summary_shows_the_parameter_count(trained, capsys):
    code, out, _ = run(["summary", str(trained)], capsys)
    assert code == 0
    assert f"{784 * 32 + 32 * 10:,}" in out  # 25,408: no bias
    assert "784-32-10" in out and "max_train_samples" in out


# ------------------------------------------------------------------ resume, Ctrl-C, divergence
def test_ctrl_c_keeps_the_epoch_and_resume_continues(tmp_path, capsys, monkeypatch):
    real = train_module.learning_rate
    calls = []

    def interrupting(*args, **kwargs):
        calls.append(1)
        if len(calls) == 200 + 50:  # the 50th update of epoch 2 (200 updates per epoch)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "learning_rate", interrupting)
        code, _, err = run(["train", *TINY, "--epochs", "3", "--out", str(tmp_path)], capsys)
    assert code == 130
    assert "epoch (1)" in err and f"--resume {tmp_path}" in err
    assert load_model(tmp_path).metadata["epoch"] == 1
    assert not (tmp_path / "evaluation.json").exists()

    code, out, _ = run(["train", "--resume", str(tmp_path)], capsys)
    assert code == 0
    assert "epoch 2/3" in out and "epoch 1/3" not in out
    assert json.loads((tmp_path / "evaluation.json").read_text())["epochs"] == 3

    code, _, err = run(["train", "--resume", "--out", str(tmp_path), "--lr", "0.5"], capsys)
    assert code == 2 and "lr" in err  # only --epochs may change


def test_resume_needs_a_saved_epoch(tmp_path, capsys):
    code, _, err = run(["train", "--resume", str(tmp_path)], capsys)
    assert code == 2
    assert_one_line_error(err)


def test_divergence_is_one_line_and_exit_1(tmp_path, capsys):
    code, _, err = run(["train", *TINY, "--output-activation", "linear", "--lr", "10",
                        "--epochs", "1", "--quiet", "--out", str(tmp_path)], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert "epoch 1, batch" in err and "nothing saved" in err
    assert not (tmp_path / "model.npz").exists()


def test_data_folder_is_remembered_and_needed_again(tmp_path, capsys):
    from digitlab.data import load_dataset, write_idx

    sample = load_dataset("mnist-sample")
    folder = tmp_path / "mydigits"
    for stem, split, n in (("train", sample.train, 300), ("t10k", sample.test, 60)):
        write_idx(folder / f"{stem}-images-idx3-ubyte",
                  np.round(split.images[:n] * 255).astype(np.uint8).reshape(n, 28, 28))
        write_idx(folder / f"{stem}-labels-idx1-ubyte", split.labels[:n].astype(np.uint8))
    run_dir = tmp_path / "run"
    code, _, _ = run(["train", "--data", str(folder), "--hidden", "8", "--epochs", "1", "-q",
                      "--out", str(run_dir)], capsys)
    assert code == 0
    assert json.loads((run_dir / "config.json").read_text())["dataset"] == "mydigits"
    assert json.loads((run_dir / "evaluation.json").read_text())["n"] == 60

    code, _, err = run(["evaluate", str(run_dir)], capsys)
    assert code == 1 and "--data" in err
    code, out, _ = run(["evaluate", str(run_dir), "--data", str(folder), "--json"], capsys)
    assert code == 0 and json.loads(out)["n"] == 60


def test_dataset_of_the_toml_file_is_not_overridden_by_the_default(tmp_path, capsys,
                                                                    monkeypatch):
    import digitlab.cli.train as cli_train
    from digitlab.errors import DataError

    asked = []

    def record(run, data_dir=None, *, name=None, **kwargs):
        asked.append(name if name is not None else run.dataset)
        raise DataError("stop here")

    monkeypatch.setattr(cli_train, "load_run_dataset", record)
    toml = tmp_path / "run.toml"
    toml.write_text('dataset = "fashion-mnist"\n')
    out = ["--out", str(tmp_path / "r")]
    assert run(["train", "--config", str(toml), *out], capsys)[0] == 1
    assert run(["train", "--config", str(toml), "--dataset", "mnist", *out], capsys)[0] == 1
    assert run(["train", *out], capsys)[0] == 1
    assert asked == ["fashion-mnist", "mnist", "mnist-sample"]
