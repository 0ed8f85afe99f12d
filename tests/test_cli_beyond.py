"""The new training flags, deskewed models and ensembles, run as a user would."""

import json

import numpy as np
import pytest
from PIL import Image

from digitlab.modelio import load_model
from test_cli_train import TINY, assert_one_line_error, run

FLAGS = ["--preset", "best", *TINY, "--hidden", "16,8", "--epochs", "1", "--batch-size", "32",
         "-q"]


@pytest.mark.parametrize("flags,named", [
    (["--dropout", "0.2,0.3,0.4"], "dropout"),
    (["--dropout", "1.5"], "dropout"),
    (["--dropout", "x"], "dropout"),
    (["--label-smoothing", "0.1", "--loss", "mse", "--output-activation", "tanh"],
     "label_smoothing"),
    (["--augment-scale", "1.5"], "augment_scale"),
    (["--elastic-sigma", "0"], "elastic_sigma"),
    (["--warmup-epochs", "2", "--schedule", "constant"], "warmup_epochs"),
    (["--split-seed", "-2"], "split_seed"),
])
def test_invalid_new_values_fail_with_one_line(tmp_path, capsys, flags, named):
    code, _, err = run(["train", *FLAGS, *flags, "--out", str(tmp_path / "run")], capsys)
    assert code == 2
    assert_one_line_error(err)
    assert named in err
    assert not (tmp_path / "run").exists()


def test_flags_reach_the_config_and_deskew_reaches_evaluate_and_predict(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, out, err = run(["train", *FLAGS, "--dropout", "0.3,0.1", "--deskew", "--max-norm",
                          "3", "--label-smoothing", "0.05", "--elastic-alpha", "1.5",
                          "--out", str(run_dir)], capsys)
    assert code == 0, err
    saved = load_model(run_dir)
    config = saved.config
    assert config.dropout == [0.3, 0.1] and config.deskew and config.max_norm == 3.0
    assert config.label_smoothing == 0.05 and config.elastic_alpha == 1.5
    assert config.augment_rotation == 12.0 and config.schedule == "onecycle"
    assert saved.preprocessing == ["deskew"]
    trained = json.loads((run_dir / "evaluation.json").read_text())["accuracy"]
    code, out, _ = run(["evaluate", str(run_dir), "--json"], capsys)
    assert code == 0 and json.loads(out)["accuracy"] == pytest.approx(trained)

    image = tmp_path / "seven.png"
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[6:9, 8:21] = 255
    for row in range(9, 23):
        digit[row, 18 - (row - 9) // 2 : 21 - (row - 9) // 2] = 255
    Image.fromarray(digit).save(image)
    code, out, _ = run(["predict", str(run_dir), str(image), "--json"], capsys)
    assert code == 0
    probabilities = json.loads(out)["predictions"][0]["probabilities"]
    expected = saved.model.probabilities(
        __import__("digitlab.images", fromlist=["x"]).load_digit_images([str(image)]))[0]
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)


def test_ensemble_command_then_evaluate_and_predict(tmp_path, capsys):
    for seed in (0, 1):
        code, _, err = run(["train", *FLAGS, "--seed", str(seed), "--split-seed", "0",
                            "--out", str(tmp_path / f"m{seed}")], capsys)
        assert code == 0, err
    code, out, err = run(["ensemble", str(tmp_path / "m0"), str(tmp_path / "m1"), "--out",
                          str(tmp_path / "ens")], capsys)
    assert code == 0, err and "2 networks" in out
    code, out, _ = run(["evaluate", str(tmp_path / "ens"), "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["n"] == 999 and 0 <= result["accuracy"] <= 1 and result["loss"] == "ce"

    code, _, err = run(["train", *FLAGS, "--seed", "2", "--out", str(tmp_path / "other")],
                       capsys)
    assert code == 0, err
    code, _, err = run(["ensemble", str(tmp_path / "m0"), str(tmp_path / "other"), "--out",
                        str(tmp_path / "bad")], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert "split differently" in err
