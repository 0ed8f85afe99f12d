"""``digitlab dream``, run as a user would, on small trained networks."""

import json

import numpy as np
import pytest
from PIL import Image

from cli_runner import run_cli
from digitlab.cli.dream import dream_options
from digitlab.config import TrainConfig
from digitlab.data import load_dataset
from digitlab.dreaming import ADVERSARIAL_NOTE, DreamOptions
from digitlab.dreaming.results import DreamStudyResult
from digitlab.errors import ConfigError
from digitlab.modelio import save_model
from digitlab.training import train

SOFTMAX = TrainConfig(hidden=[32], activation="swish", output_activation="softmax", loss="ce",
                      optimizer="adam", lr=1e-3, batch_size=32, epochs=1,
                      max_train_samples=2000)
TANH = TrainConfig(hidden=[16], activation="tanh", output_activation="tanh", loss="mse",
                   optimizer="sgd", lr=0.01, batch_size=1, epochs=1, max_train_samples=1000)
FIGURES = ("dream.png", "curves.png", "probabilities.png")


@pytest.fixture(scope="module")
def data():
    return load_dataset()


@pytest.fixture(scope="module")
def softmax_model(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("softmax") / "model.npz"
    save_model(path, train(SOFTMAX, data, progress=False).network, config=SOFTMAX)
    return path


@pytest.fixture(scope="module")
def tanh_model(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("tanh") / "model.npz"
    save_model(path, train(TANH, data, progress=False).network, config=TANH)
    return path


run = run_cli


def _is_png(path):
    with Image.open(path) as image:
        return image.format == "PNG" and image.width > 200 and image.height > 100


def test_dream_all_digits_and_turn(softmax_model, tmp_path, capsys):
    out_dir = tmp_path / "dreams"
    code, out, err = run(["dream", softmax_model, "--turn", "3:8", "--steps", "120",
                          "--no-progress", "--out", out_dir], capsys)
    assert code == 0, err
    for name in (*FIGURES, "turn.png"):
        assert _is_png(out_dir / name), name
    record = json.loads((out_dir / "dream.json").read_text())
    assert record["loss"] == "ce" and record["start"] == "black"
    assert record["dataset"] == "mnist-sample"
    assert record["options"]["steps"] == 120
    assert record["options"]["min_steps"] == 75  # kept in proportion to the budget
    assert record["support"]["min_fraction"] == 0.1 and 0 < record["support"]["pixels"] < 784
    assert [d["digit"] for d in record["dreams"]] == list(range(10))
    for d in record["dreams"]:
        assert {"digit", "steps", "final_target_probability", "final_probabilities",
                "converged", "loss_curve", "target_probability_curve"} <= set(d)
        assert d["final_target_probability"] == pytest.approx(
            d["final_probabilities"][d["digit"]])
        assert len(d["loss_curve"]) == d["steps"] + 1
    assert record["min_final_target_probability"] == pytest.approx(
        min(d["final_target_probability"] for d in record["dreams"]))
    images = np.load(out_dir / "dreams.npy", allow_pickle=False)
    assert images.shape == (10, 784) and images.min() >= 0 and images.max() <= 1
    turn = record["turn"]
    assert (turn["from_digit"], turn["to_digit"]) == (3, 8)
    assert turn["adversarial_example"] is True and turn["note"] == ADVERSARIAL_NOTE
    assert turn["final_probability"] == pytest.approx(turn["final_probabilities"][8])
    assert 0 < turn["linf_distance"] <= 1 and turn["l2_distance"] >= turn["linf_distance"]
    assert isinstance(turn["test_index"], int) and turn["steps"] >= 1
    assert "adversarial example" in out and "digit" in out
    assert record["files"]["turn"] == "turn.png"
    typed = DreamStudyResult.from_dict(record)
    assert typed.to_dict() == record and typed.extra.keys() <= {"model", "dataset"}
    assert typed.turn.test_index == turn["test_index"] and typed.dreams[3].digit == 3


def test_one_digit_from_the_class_mean_with_plain_equation_3(softmax_model, tmp_path, capsys):
    out_dir = tmp_path / "plain"
    code, out, err = run(["dream", softmax_model, "--digit", "4", "--start", "mean", "--plain",
                          "--steps", "30", "--no-progress", "--out", out_dir], capsys)
    assert code == 0, err
    record = json.loads((out_dir / "dream.json").read_text())
    assert record["start"] == "mean" and record["support"] is None
    options = record["options"]
    assert (options["normalize"], options["clip"], options["tv"], options["jitter"]) == (
        False, False, 0.0, 0)
    (only,) = record["dreams"]
    assert only["digit"] == 4 and only["steps"] == 30
    assert "turn" not in record and not (out_dir / "turn.png").exists()


def test_start_from_a_png(softmax_model, data, tmp_path, capsys):
    png = tmp_path / "seven.png"
    seven = data.test.images[np.flatnonzero(data.test.labels == 7)[0]]
    Image.fromarray((255 - seven.reshape(28, 28) * 255).astype(np.uint8)).save(png)  # ink on paper
    out_dir = tmp_path / "from_png"
    code, _, err = run(["dream", softmax_model, "--digit", "1", "--start", png, "--steps", "40",
                        "--no-blur", "--no-jitter", "--no-progress", "--out", out_dir], capsys)
    assert code == 0, err
    record = json.loads((out_dir / "dream.json").read_text())
    assert record["start"] == "image" and record["start_image"] == str(png)
    assert record["options"]["blur_every"] == 0 and record["options"]["jitter"] == 0
    assert record["dreams"][0]["target_probability_curve"][-1] > \
        record["dreams"][0]["target_probability_curve"][0]


def test_a_tanh_network_dreams_with_the_squared_error(tanh_model, tmp_path, capsys):
    out_dir = tmp_path / "tanh"
    code, _, err = run(["dream", tanh_model, "--digit", "0", "--steps", "80", "--no-progress",
                        "--out", out_dir], capsys)
    assert code == 0, err
    record = json.loads((out_dir / "dream.json").read_text())
    assert record["loss"] == "mse"
    curve = record["dreams"][0]["loss_curve"]
    assert curve[-1] < curve[0]


@pytest.mark.parametrize("flags,code,named", [
    (["--digit", "11"], 2, "--digit"),
    (["--turn", "3:3"], 2, "--turn"),
    (["--turn", "3-8"], 2, "--turn"),
    (["--lr", "-1"], 2, "lr"),
    (["--steps", "0"], 2, "steps"),
    (["--support", "2"], 2, "support"),
    (["--start", "nowhere.png"], 2, "nowhere.png"),
])
def test_bad_flags_fail_with_one_line(softmax_model, tmp_path, capsys, flags, code, named):
    out_dir = tmp_path / "bad"
    got, _, err = run(["dream", softmax_model, *flags, "--no-progress", "--out", out_dir], capsys)
    assert got == code
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], err
    assert not (out_dir / "dream.json").exists()


def test_a_damaged_model_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"not a model")
    code, _, err = run(["dream", bad, "--out", tmp_path / "out"], capsys)
    assert code == 1 and err.startswith("error: ") and str(bad) in err


def test_flags_given_explicitly_win_over_plain():
    options = dream_options(plain=True, tv=0.01, steps=50, seed=3)
    assert options.tv == 0.01 and options.steps == 50 and options.seed == 3
    assert options.l2 == 0.0 and not options.normalize
    default = dream_options()
    assert default == DreamOptions()
    assert dream_options(no_blur=True, no_jitter=True).has_priors  # tv and l2 remain
    assert dream_options(faint=True) == DreamOptions(full_contrast=False)


def test_faint_keeps_the_dreams_as_equation_3_leaves_them(softmax_model, tmp_path, capsys):
    """By default each dream ends at full contrast (dream.json's contrast_gain); --faint keeps
    the same steps' image as it was (a strong decay towards black leaves them faint)."""
    images, gains = {}, {}
    for name, flags in (("bright", []), ("faint", ["--faint"])):
        out_dir = tmp_path / name
        code, _, err = run(["dream", softmax_model, "--digit", "2", "--steps", "60", "--l2",
                            "0.1", *flags, "--no-progress", "--out", out_dir], capsys)
        assert code == 0, err
        record = json.loads((out_dir / "dream.json").read_text())
        assert record["options"]["full_contrast"] is (name == "bright")
        gains[name] = np.array([d["contrast_gain"] for d in record["dreams"]])
        images[name] = np.load(out_dir / "dreams.npy", allow_pickle=False)
    assert np.all(gains["faint"] == 1.0) and np.all(gains["bright"] > 1.0)
    np.testing.assert_allclose(images["bright"], images["faint"] * gains["bright"][:, None],
                               rtol=1e-5, atol=1e-6)


def test_ascent_is_the_normalised_clipped_dream_and_excludes_plain(softmax_model, tmp_path,
                                                                   capsys):
    options = dream_options(ascent=True, steps=20, seed=1)
    assert options == DreamOptions.ascent(steps=20, seed=1)
    with pytest.raises(ConfigError, match="--ascent"):
        dream_options(plain=True, ascent=True)
    out_dir = tmp_path / "ascent"
    code, out, err = run(["dream", softmax_model, "--digit", "7", "--ascent", "--steps", "20",
                          "--no-progress", "--out", out_dir], capsys)
    assert code == 0, err
    record = json.loads((out_dir / "dream.json").read_text())
    assert record["dreams"][0]["steps"] == 20
