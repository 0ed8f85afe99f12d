"""Fine-tuning on one's own digits: drawn and labelled through the lab's API, kept as an IDX
folder, a network fine-tuned on them into a new run (the source untouched), measured before and
after, then questioned by the lab and `digitlab evaluate` like any run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib
import pytest
from PIL import Image, ImageDraw, ImageFont

from digitlab.cli import main
from digitlab.config import TrainConfig
from digitlab.errors import ConfigError
from digitlab.finetuning import FINETUNE_FILE, finetune
from digitlab.modelio import load_model
from digitlab.training import train

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from digitlab.serve import create_app  # noqa: E402

FONTS = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
HANDS = ("DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono-Oblique.ttf")  # 3 of each
TINY = dict(hidden=[16], epochs=1, max_train_samples=500, batch_size=10, optimizer="adam",
            lr=0.003, seed=1)


def drawn(digit: int, font: str, side: int = 140) -> bytes:
    """A digit written in ``font`` on a white sheet, an RGBA PNG as the lab's page sends it."""
    sheet = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    face = ImageFont.truetype(str(FONTS / font), int(side * 0.7))
    ImageDraw.Draw(sheet).text((side / 2, side / 2), str(digit), font=face, anchor="mm",
                               fill=(17, 17, 17, 255))
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A tiny network, and 30 of 'my' digits (three hands of the ten digits) drawn, read and
    kept through the lab's API."""
    folder = tmp_path_factory.mktemp("runs")
    train(TrainConfig(**TINY), run_dir=folder / "tiny", progress=False)
    with TestClient(create_app(folder, port=8000), base_url="http://127.0.0.1:8000") as lab:
        for font in HANDS:
            for digit in range(10):
                read = lab.post("/api/predict?model=tiny", content=drawn(digit, font),
                                headers={"Content-Type": "image/png"})
                assert read.status_code == 200, read.text
                kept = lab.post("/api/my-digits", json={"image": read.json()["prepared"],
                                                         "label": digit})
                assert kept.status_code == 200, kept.text
    assert kept.json()["count"] == 30
    return folder


def test_a_network_fine_tuned_on_my_digits_is_a_new_run_measured_before_and_after(runs):
    source = (runs / "tiny" / "model.npz").read_bytes()
    result = finetune(runs / "tiny", runs / "my-digits", runs / "tiny-mine", epochs=2)

    assert (runs / "tiny" / "model.npz").read_bytes() == source  # the source is only read
    assert (result.trained_on, result.held_out) == (20, 10)  # one of the three of each digit
    assert result.replayed == result.trained_on  # as many of its own digits mixed in
    tuned = load_model(runs / "tiny-mine")
    history = tuned.metadata["history"]["epochs"]
    assert [e["epoch"] for e in history] == [1, 2, 3]  # the run goes on: 1 + 2 epochs
    assert tuned.config == load_model(runs / "tiny").config.replace(epochs=3)
    for accuracies in (result.before, result.after):
        assert 0.0 <= accuracies.own <= 1.0 and 0.0 <= accuracies.test <= 1.0
    assert history[-1]["test_accuracy"] == pytest.approx(result.after.test)
    record = json.loads((runs / "tiny-mine" / FINETUNE_FILE).read_text())
    assert record["before"] == {"own": result.before.own, "test": result.before.test}
    assert record["source"] == str(runs / "tiny") and record["epochs"] == 2

    # the lab lists it and reads my digits with it, as `digitlab evaluate` does
    with TestClient(create_app(runs, port=8000), base_url="http://127.0.0.1:8000") as lab:
        assert "tiny-mine" in [m["id"] for m in lab.get("/api/models").json()["models"]]
        mine = lab.get("/api/my-digits/accuracy?model=tiny-mine").json()
    assert mine["count"] == 30


def test_the_command_prints_before_and_after_and_never_overwrites(runs, capsys):
    main(["finetune", str(runs / "tiny"), "--data", str(runs / "my-digits"), "--out",
          str(runs / "tiny-cli"), "--epochs", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert "your 10 held-out digits" in out and "its test digits" in out
    assert (runs / "tiny-cli" / "model.npz").is_file()
    with pytest.raises(SystemExit) as stopped:
        main(["finetune", str(runs / "tiny"), "--data", str(runs / "my-digits"), "--out",
              str(runs / "tiny-cli")])
    assert stopped.value.code != 0
    error = capsys.readouterr().err
    assert "exists; fine-tuning writes a new run folder" in error and "Traceback" not in error


def test_too_few_digits_or_an_ensemble_are_refused_in_one_line(runs, tmp_path):
    from digitlab.ensembles import save_ensemble

    with pytest.raises(ConfigError, match="an ensemble"):
        finetune(save_ensemble([runs / "tiny", runs / "tiny"], tmp_path / "pair"),
                 runs / "my-digits", tmp_path / "out")
    with pytest.raises(ConfigError, match="held_out"):
        finetune(runs / "tiny", runs / "my-digits", tmp_path / "out", held_out=1.0)
    assert not (tmp_path / "out").exists()


def test_the_lab_fine_tunes_in_its_training_process_and_says_what_it_measured(runs, tmp_path):
    import time

    with TestClient(create_app(runs, port=8000), base_url="http://127.0.0.1:8000") as lab:
        started = lab.post("/api/finetune", json={"model": "tiny", "epochs": 1})
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["model"].startswith("tiny-mine") and job["epochs"] == 2  # 1 + 1 epochs
        busy = lab.post("/api/finetune", json={"model": "tiny"})
        assert busy.status_code == 409  # one training at a time
        deadline = time.monotonic() + 120
        while (status := lab.get("/api/train").json())["state"] == "running":
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert status["state"] == "finished", status
        measured = status["finetune"]
        assert (measured["trained_on"], measured["held_out"]) == (20, 10)
        assert measured["after"]["test"] == pytest.approx(status_after_test(runs / job["model"]))
        assert job["model"] in [m["id"] for m in lab.get("/api/models").json()["models"]]

        for body, words in (({"model": "tiny", "epochs": 0}, "'epochs'"),
                            ({"model": "tiny", "mine": 1}, "unknown field")):
            refused = lab.post("/api/finetune", json=body)
            assert refused.status_code == 422 and words in refused.json()["error"], refused.text
    train(TrainConfig(**TINY), run_dir=tmp_path / "alone", progress=False)
    with TestClient(create_app(tmp_path, port=8000), base_url="http://127.0.0.1:8000") as lab:
        lab.post("/api/my-digits", json={"image": [0.0] * 392 + [1.0] * 392, "label": 1})
        refused = lab.post("/api/finetune", json={"model": "alone"})
        assert refused.status_code == 422 and "keep more of your digits" in refused.text


def status_after_test(run: Path) -> float:
    """The test accuracy of the last epoch of a run (what the fine-tuning ended with)."""
    return load_model(run).metadata["history"]["epochs"][-1]["test_accuracy"]
