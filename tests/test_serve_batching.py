"""Predictions are answered by one thread, every waiting one in one pass (serve/batching.py),
and their answers are those of the same questions asked one at a time."""

from __future__ import annotations

import asyncio
import io
import json
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitlab.calibration import Calibration
from digitlab.config import TrainConfig
from digitlab.modelio import save_model
from digitlab.nn.network import MLP
from digitlab.serve import batching, create_app, explain
from digitlab.serve.batching import BatchWorker, Prediction, answer_predictions
from digitlab.serve.models import ModelRegistry

QUESTIONS = 12


@pytest.fixture
def runs(tmp_path):
    """A random 784-32-16-10 swish/softmax network, and the same calibrated with a threshold."""
    network = MLP([784, 32, 16, 10], ["swish", "swish", "softmax"],
                  rng=np.random.default_rng(5))
    config = TrainConfig(hidden=[32, 16], activation="swish", output_activation="softmax",
                         loss="ce")
    save_model(tmp_path / "plain" / "model.npz", network, config=config)
    calibration = Calibration(temperature=1.7, fitted_on=100, threshold=0.4)
    save_model(tmp_path / "honest" / "model.npz", network, config=config,
               extra={"calibration": calibration.to_dict()})
    return tmp_path


class CountedReads:
    """explain.read_and_decide, counting the rows of each call."""

    def __init__(self):
        self.rows: list[int] = []
        self.read = explain.read_and_decide

    def __call__(self, network, images, *args):
        self.rows.append(len(images))
        return self.read(network, images, *args)


def test_predictions_of_a_pass_share_one_read_per_model_and_agree_with_one_at_a_time(
        runs, monkeypatch):
    registry = ModelRegistry(runs)
    images = np.random.default_rng(0).random((QUESTIONS, 784)).astype(np.float32) ** 3
    models = ["plain", "honest"] * (QUESTIONS // 2)
    reads = CountedReads()
    monkeypatch.setattr(batching.explain, "read_and_decide", reads)

    answers = answer_predictions(registry, [Prediction(m, image=x, layers=True)
                                            for m, x in zip(models, images, strict=True)])

    assert reads.rows == [QUESTIONS // 2, QUESTIONS // 2]  # one pass per network
    for model, image, response in zip(models, images, answers, strict=True):
        loaded = registry.load(model)
        together = json.loads(response.body)
        alone = explain.answer(loaded.network, image, calibration=loaded.calibration,
                               layers=True)
        assert together["model"] == model
        assert together["digit"] == alone["digit"]
        assert together["is_digit"] == alone["is_digit"]
        assert together["prepared"] == alone["prepared"]
        assert together["layers"] == alone["layers"]
        # the same sums in another order (BLAS): equal to float32 rounding
        np.testing.assert_allclose(together["probabilities"], alone["probabilities"],
                                   rtol=0, atol=1e-6)


def test_an_unknown_model_or_a_blank_upload_fails_alone(runs):
    blank = io.BytesIO()
    Image.new("L", (40, 40), 255).save(blank, "PNG")
    image = np.zeros(784, np.float32)
    answers = answer_predictions(ModelRegistry(runs), [
        Prediction("plain", image=image), Prediction("nowhere", image=image),
        Prediction("plain", upload=blank.getvalue()), Prediction("honest", image=image)])
    assert [type(a).__name__ for a in answers] == ["JSONResponse", "ApiError", "ApiError",
                                                  "JSONResponse"]
    assert (answers[1].status, answers[2].status) == (404, 422)


class Held:
    """A handle whose first pass waits until released, recording each pass's items."""

    def __init__(self, handle):
        self.handle, self.passes = handle, []
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, items):
        self.passes.append(list(items))
        if len(self.passes) == 1:
            self.started.set()
            assert self.release.wait(10)
        return self.handle(items)


async def ask_while_the_first_pass_runs(worker: BatchWorker, held: Held, items: list) -> list:
    """The first item alone, then the others queued behind its pass; every outcome (an
    answer or the exception raised)."""
    first = asyncio.ensure_future(worker(items[0]))
    assert await asyncio.to_thread(held.started.wait, 10)
    others = [asyncio.ensure_future(worker(item)) for item in items[1:]]
    await asyncio.sleep(0)  # each has queued its item
    held.release.set()
    return await asyncio.gather(first, *others, return_exceptions=True)


def test_items_waiting_during_a_pass_go_together_into_the_next():
    held = Held(lambda items: [2 * item for item in items])
    worker = BatchWorker(held)
    answers = asyncio.run(ask_while_the_first_pass_runs(worker, held, list(range(QUESTIONS))))
    assert answers == [2 * i for i in range(QUESTIONS)]
    assert held.passes == [[0], list(range(1, QUESTIONS))]
    assert (worker.passes, worker.items) == (2, QUESTIONS)
    worker.stop()


def test_an_error_reaches_its_item_or_every_item_of_its_pass_and_the_worker_goes_on():
    def handle(items):
        if "crash" in items:
            raise RuntimeError("the pass failed")
        return [ValueError(item) if item == "bad" else item.upper() for item in items]

    held = Held(handle)
    worker = BatchWorker(held)
    answers = asyncio.run(ask_while_the_first_pass_runs(worker, held, ["a", "bad", "c"]))
    assert answers[0] == "A" and answers[2] == "C"
    assert isinstance(answers[1], ValueError) and str(answers[1]) == "bad"

    held = Held(handle)
    worker = BatchWorker(held)
    answers = asyncio.run(ask_while_the_first_pass_runs(worker, held, ["x", "crash", "y"]))
    assert answers[0] == "X"  # the first pass, alone
    assert [str(a) for a in answers[1:]] == ["the pass failed"] * 2  # the second pass
    assert asyncio.run(worker("z")) == "Z"
    worker.stop()
    assert worker._thread is None


def test_a_lone_item_is_answered_by_the_worker_thread_at_once():
    threads = []
    worker = BatchWorker(lambda items: (threads.append(threading.current_thread()), items)[1])
    assert asyncio.run(worker("only")) == "only"
    assert threads[0].name == "digitlab-batch" and worker.passes == 1
    worker.stop()


def test_an_answer_to_a_request_that_left_is_dropped():
    held = Held(lambda items: items)
    worker = BatchWorker(held)

    async def leave_early():
        first = asyncio.ensure_future(worker("gone"))
        assert await asyncio.to_thread(held.started.wait, 10)
        first.cancel()
        held.release.set()
        return await worker("next")

    assert asyncio.run(leave_early()) == "next"
    worker.stop()


def test_a_prediction_error_speaks_the_language_of_its_request(runs):
    with TestClient(create_app(runs, port=8000), base_url="http://127.0.0.1:8000") as client:
        english = client.post("/api/predict-prepared?model=nowhere",
                              json={"image": [0.0] * 784})
        slovenian = client.post("/api/predict-prepared?model=nowhere",
                                json={"image": [0.0] * 784},
                                headers={"Accept-Language": "sl"})
    assert english.status_code == slovenian.status_code == 404
    assert english.json()["error"].startswith("unknown model id")
    assert slovenian.json()["error"].startswith("neznana oznaka modela")
