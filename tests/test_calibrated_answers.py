"""Every confidence digitlab shows says whether it is calibrated, and "not a digit" is answered.

One tiny `honest` run (adversarial training, outlier exposure, calibration) is trained here
through ``digitlab train`` in seconds; a "picky" model file is crafted from a small network with
a stored calibration whose threshold (0.99) no answer of it reaches, so that every image is
"not a digit", and a "plain" model holds the same network without a calibration.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cli_runner import run_cli
from digitlab.calibration import hidden_activations
from digitlab.config import TrainConfig
from digitlab.images import load_digit_images
from digitlab.modelio import load_model, save_model
from digitlab.nn.network import MLP

HONEST = ["--preset", "honest", "--hidden", "16", "--epochs", "1", "--max-train-samples",
          "300", "--attack-steps", "2", "--batch-size", "32", "--seed", "5"]
PICKY = {"temperature": 2.0, "fitted_on": 100, "ece_before": 0.2, "ece_after": 0.05,
         "n_bins": 15, "threshold": 0.99}


def png_of_a_one(size: int = 120) -> bytes:
    image = Image.new("L", (size, size), 255)
    ImageDraw.Draw(image).line([(size // 2, size // 6), (size // 2, size * 5 // 6)], fill=0,
                               width=size // 10)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """``honest`` (trained by the command line; its output kept in ``train.txt``), ``picky``
    and ``plain`` (crafted) under one runs folder."""
    folder = tmp_path_factory.mktemp("calibrated-runs")
    config = TrainConfig(hidden=[8], output_activation="softmax", loss="ce", bias=True,
                         init="glorot")
    network = MLP([784, 8, 10], ["tanh", "softmax"], bias=True,
                  rng=np.random.default_rng(0))
    save_model(folder / "picky" / "model.npz", network, config=config,
               extra={"calibration": PICKY})
    save_model(folder / "plain" / "model.npz", network, config=config)
    (folder / "one.png").write_bytes(png_of_a_one())
    return folder


@pytest.fixture(scope="module")
def honest(runs, tmp_path_factory) -> tuple[Path, str]:
    """The honest run folder and what ``digitlab train`` printed for it."""
    from click.testing import CliRunner

    from digitlab.cli import cli

    result = CliRunner().invoke(cli, ["train", *HONEST, "--quiet", "--out",
                                      str(runs / "honest")])
    assert result.exit_code == 0, result.output
    return runs / "honest", result.output


# ---------------------------------------------------------------------- command line
def test_train_names_the_fitted_temperature_and_threshold(honest):
    run, output = honest
    calibration = load_model(run).calibration
    assert calibration is not None and calibration.threshold is not None
    line = next(line for line in output.splitlines() if line.startswith("Test ECE"))
    assert f"T = {calibration.temperature:.3g}" in line
    assert f"below {100 * calibration.threshold:.1f} %" in line and "not a digit" in line


def test_predict_answers_not_a_digit_below_the_threshold(runs, capsys):
    code, out, err = run_cli(["predict", runs / "picky", runs / "one.png"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("probabilities calibrated (T = 2;")
    assert '"not a digit"' in lines[0] and lines[1].endswith("answer")
    expected = load_model(runs / "picky").model.probabilities(
        load_digit_images([runs / "one.png"]))[0]
    digit = int(expected.argmax())
    assert f"not a digit (top {digit} at {100 * expected[digit]:.1f} %)" in lines[2]
    assert len(lines) == 3


def test_predict_json_says_calibrated_and_is_digit(runs, capsys):
    code, out, _ = run_cli(["predict", runs / "picky", runs / "one.png", "--json"], capsys)
    assert code == 0
    answer = json.loads(out)
    assert answer["calibrated"] is True and answer["temperature"] == 2.0
    assert answer["threshold"] == 0.99
    (record,) = answer["predictions"]
    assert record["is_digit"] is False
    expected = load_model(runs / "picky").model.probabilities(
        load_digit_images([runs / "one.png"]))[0]
    np.testing.assert_allclose(record["probabilities"], expected, rtol=1e-6)
    code, out, _ = run_cli(["predict", runs / "plain", runs / "one.png", "--json"], capsys)
    plain = json.loads(out)
    assert (plain["calibrated"], plain["temperature"], plain["threshold"]) == (False, None, None)
    assert plain["predictions"][0]["is_digit"] is True


def test_predict_of_an_uncalibrated_network_says_so(runs, capsys):
    code, out, _ = run_cli(["predict", runs / "plain", runs / "one.png"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == ("not calibrated: this network's confidence is not a probability it "
                        "has earned")
    assert "answer" not in lines[1] and "not a digit" not in out


def test_evaluate_prints_the_ece_of_the_calibrated_probabilities(honest, capsys):
    run, _ = honest
    calibration = load_model(run).calibration
    code, out, err = run_cli(["evaluate", run], capsys)
    assert code == 0, err
    ece_line = next(line for line in out.splitlines() if line.startswith("ECE"))
    assert "15 bins, of the calibrated probabilities" in ece_line
    assert f"probabilities calibrated (T = {calibration.temperature:.3g}" in out
    code, out, _ = run_cli(["evaluate", run, "--json"], capsys)
    record = json.loads(out)
    assert record["calibrated"] is True
    assert record["temperature"] == pytest.approx(calibration.temperature)
    assert record["threshold"] == pytest.approx(calibration.threshold)
    assert 0.0 <= record["ece"] <= 1.0
    evaluation = json.loads((run / "evaluation.json").read_text())  # written by training
    assert evaluation["calibrated"] is True
    assert evaluation["ece"] == pytest.approx(record["ece"], abs=1e-6)


def test_evaluating_a_calibrated_model_calibrates_the_probabilities_only(honest):
    import digitlab as dl

    run, _ = honest
    saved = dl.load_model(run)
    images = np.random.default_rng(1).random((20, 784)).astype(np.float32)
    labels = np.arange(20) % 10
    calibrated = dl.evaluate(saved, images, labels)
    bare = dl.evaluate(saved.network, images, labels)
    np.testing.assert_allclose(calibrated.probabilities, saved.model.probabilities(images),
                               rtol=1e-6)
    np.testing.assert_array_equal(calibrated.predictions, bare.predictions)
    assert calibrated.calibrated and not bare.calibrated


# ---------------------------------------------------------------------- the lab's API
@pytest.fixture(scope="module")
def client(runs, honest):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from digitlab.serve import create_app

    with TestClient(create_app(runs, port=8000), base_url="http://127.0.0.1:8000") as test:
        yield test


def test_models_say_whether_they_are_calibrated(client, honest):
    run, _ = honest
    calibration = load_model(run).calibration
    models = {m["id"]: m for m in client.get("/api/models").json()["models"]}
    assert models["honest"]["calibrated"] is True
    assert models["honest"]["temperature"] == pytest.approx(calibration.temperature)
    assert models["honest"]["threshold"] == pytest.approx(calibration.threshold)
    assert (models["plain"]["calibrated"], models["plain"]["temperature"],
            models["plain"]["threshold"]) == (False, None, None)
    assert models["picky"]["threshold"] == 0.99
    detail = client.get("/api/models/picky").json()
    assert detail["calibrated"] is True and detail["temperature"] == 2.0


def test_predictions_serve_the_calibrated_probabilities(client, honest):
    run, _ = honest
    answer = client.post("/api/predict?model=honest&explain=1", content=png_of_a_one(),
                         headers={"Content-Type": "image/png"}).json()
    model = load_model(run).model
    prepared = np.asarray([answer["prepared"]], dtype=np.float32)
    expected = model.probabilities(prepared)[0]
    np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-5, atol=1e-7)
    assert answer["calibrated"] is True and answer["digit"] == int(expected.argmax())
    assert answer["is_digit"] is bool(model.is_digit(prepared)[0])
    assert len(answer["saliency"]) == 784
    # how digit-like it looks inside the network, and how much its answer was flattened
    hidden = load_model(run).calibration.hidden
    features = hidden_activations(model.model, prepared, hidden.layer)
    assert answer["typicality"] == pytest.approx(float(hidden.typicality(features)[0]))
    assert answer["flattening"] == pytest.approx(
        float(hidden.flattening_of_typicality(hidden.typicality(features))[0]))
    # a network to which every image is less digit-like than all 200 calibration digits
    saved = load_model(run)
    calibration = dataclasses.replace(saved.calibration, hidden=dataclasses.replace(
        hidden, reference=np.linspace(1.0, 2.0, 200)))  # scores M = -distance are below 0
    save_model(run.parent / "doubtful" / "model.npz", saved.network, config=saved.config,
               extra={"calibration": calibration.to_dict()}, extra_arrays=calibration.arrays())
    noise = np.random.default_rng(3).random(784)
    strange = client.post("/api/predict-prepared?model=doubtful",
                          json={"image": noise.tolist()}).json()
    assert strange["typicality"] == 0.0
    assert strange["flattening"] == pytest.approx(hidden.flatten_below * 200)  # q / (1 / N)
    expected = load_model(run.parent / "doubtful").model.probabilities(noise[None])[0]
    np.testing.assert_allclose(strange["probabilities"], expected, rtol=1e-5, atol=1e-7)
    plain = client.post("/api/predict-prepared?model=plain", json={"image": noise.tolist()})
    assert plain.json()["typicality"] is None and plain.json()["flattening"] is None


def test_below_the_threshold_the_lab_answers_not_a_digit(client):
    answer = client.post("/api/predict-prepared?model=picky",
                         json={"image": load_digit_images_of_a_one()}).json()
    assert answer["is_digit"] is False and answer["threshold"] == 0.99
    plain = client.post("/api/predict-prepared?model=plain",
                        json={"image": load_digit_images_of_a_one()}).json()
    assert plain["is_digit"] is True and plain["calibrated"] is False
    assert plain["digit"] == answer["digit"]  # a temperature never changes the digit read


def load_digit_images_of_a_one() -> list[float]:
    from digitlab.images import load_digit_image_bytes

    return [float(v) for v in load_digit_image_bytes(png_of_a_one()).reshape(-1)]


def test_quiz_and_probes_use_the_calibrated_probabilities(client, honest):
    run, _ = honest
    model = load_model(run).model
    question = client.get("/api/quiz?model=honest").json()
    if question["count"]:
        reply = client.post("/api/quiz/answer", json={"model": "honest", "index": 0,
                                                      "guess": 3}).json()
        expected = model.probabilities(np.asarray([question["image"]], dtype=np.float32))[0]
        np.testing.assert_allclose(reply["network_probabilities"], expected, rtol=1e-5,
                                   atol=1e-7)
        assert reply["calibrated"] is True
    probe = client.get("/api/nondigits/uniform_noise?model=honest&n=3").json()
    images = np.asarray(probe["images"], dtype=np.float32)
    assert probe["calibrated"] is True and len(probe["answers"]) == 3
    for answer, p in zip(probe["answers"], model.probabilities(images), strict=True):
        np.testing.assert_allclose(answer["probabilities"], p, rtol=1e-3, atol=1e-4)
        assert isinstance(answer["is_digit"], bool)
    ood = client.post("/api/ood?model=picky", json={"image": [0.0] * 783 + [1.0]}).json()
    assert ood["is_digit"] is False and ood["calibrated"] is True


def test_a_dream_of_a_calibrated_model_shows_calibrated_probabilities(client, runs):
    with client.stream("POST", "/api/dream", json={"model": "picky", "digit": 4,
                                                   "steps": 10}) as response:
        assert response.status_code == 200
        lines = [json.loads(line) for line in response.iter_lines() if line]
    done = lines[-1]
    assert done["done"] is True and done["calibrated"] is True and done["temperature"] == 2.0
    image = np.asarray([done["image"]], dtype=np.float32)
    expected = load_model(runs / "picky").model.probabilities(image)[0]
    np.testing.assert_allclose(done["probabilities"], expected, rtol=1e-3, atol=1e-4)


def test_the_probes_draw_the_networks_own_threshold_and_use_both_tests(client, honest):
    run, _ = honest
    saved = load_model(run)
    calibration = saved.calibration
    assert calibration.hidden is not None  # outlier exposure: the hidden-layer test is fitted
    probe = client.get("/api/nondigits/letters?model=honest&n=8").json()
    assert probe["reference"]["threshold"] == pytest.approx(calibration.threshold)
    assert probe["reference"]["hidden_test"] is True
    images = np.asarray(probe["images"], dtype=np.float32)
    expected = saved.model.is_digit(images)
    assert [a["is_digit"] for a in probe["answers"]] == expected.tolist()
    plain = client.get("/api/nondigits/letters?model=plain&n=8").json()["reference"]
    assert plain["hidden_test"] is False and plain["threshold"] is not None


def test_predict_says_when_the_hidden_layer_test_turns_a_sure_answer_away(runs, tmp_path,
                                                                         capsys):
    """Sure enough by the threshold (0) but unlike any digit in the first hidden layer (a
    Mahalanobis threshold no image reaches): "not a digit", and the line says why."""
    from digitlab.calibration import Calibration, HiddenCheck
    from digitlab.mahalanobis import ClassGaussians

    network = MLP([784, 8, 10], ["tanh", "softmax"], bias=True, rng=np.random.default_rng(0))
    calibration = Calibration(temperature=1.0, threshold=0.0, hidden=HiddenCheck(
        ClassGaussians(np.zeros((10, 8)), np.eye(8)), threshold=1.0))
    path = save_model(tmp_path / "strange.npz", network, config=TrainConfig(
        hidden=[8], output_activation="softmax", loss="ce", bias=True, init="glorot"),
        extra={"calibration": calibration.to_dict()}, extra_arrays=calibration.arrays())
    code, out, err = run_cli(["predict", path, runs / "one.png"], capsys)
    assert code == 0, err
    assert "or where its first hidden layer sees no digit" in out.splitlines()[0]
    p = load_model(path).model.probabilities(load_digit_images([runs / "one.png"]))[0]
    digit = int(p.argmax())
    assert out.splitlines()[2].endswith(
        f"not a digit (top {digit} at {100 * p[digit]:.1f} %, but unlike any digit in its "
        "first hidden layer)")
    code, out, _ = run_cli(["predict", path, runs / "one.png", "--json"], capsys)
    answer = json.loads(out)
    assert answer["hidden_test"] is True and answer["predictions"][0]["is_digit"] is False
