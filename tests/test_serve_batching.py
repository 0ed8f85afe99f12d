"""Questions asked of one network at the same time share a forward pass (serve/batching.py),
and their answers are those of the same questions asked one at a time."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from digitlab.calibration import Calibration
from digitlab.config import TrainConfig
from digitlab.modelio import save_model
from digitlab.nn.network import MLP
from digitlab.serve import explain
from digitlab.serve.batching import Batcher
from digitlab.serve.models import ModelRegistry

QUESTIONS = 12


def ask_together(batcher: Batcher, rows: np.ndarray, hold, ask=None) -> list[np.ndarray]:
    """Every row asked from a thread of its own (``ask(i)``, by default keeping the answer),
    while the first pass is held until all the others have queued behind it (so the others
    share the second pass)."""
    answers: list[np.ndarray | None] = [None] * len(rows)

    def keep(i: int) -> None:
        answers[i] = batcher(rows[i])

    ask = ask or keep

    first = threading.Thread(target=ask, args=(0,))
    first.start()
    assert hold.started.wait(10)  # the first pass runs (and waits)
    others = [threading.Thread(target=ask, args=(i,)) for i in range(1, len(rows))]
    for thread in others:
        thread.start()
    for _ in range(1000):
        if len(batcher._queue) >= len(rows) - 1:
            break
        threading.Event().wait(0.01)
    hold.release.set()
    for thread in [first, *others]:
        thread.join(10)
    return answers


class Hold:
    """A compute function whose first call waits until released."""

    def __init__(self, compute):
        self.compute, self.calls = compute, []
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        self.calls.append(len(rows))
        if len(self.calls) == 1:
            self.started.set()
            assert self.release.wait(10)
        return self.compute(rows)


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    """A random 784-32-16-10 swish/softmax network, and the same calibrated with a threshold."""
    network = MLP([784, 32, 16, 10], ["swish", "swish", "softmax"],
                  rng=np.random.default_rng(5))
    config = TrainConfig(hidden=[32, 16], activation="swish", output_activation="softmax",
                         loss="ce")
    save_model(tmp_path / "plain" / "model.npz", network, config=config)
    calibration = Calibration(temperature=1.7, fitted_on=100, threshold=0.4)
    save_model(tmp_path / "honest" / "model.npz", network, config=config,
               extra={"calibration": calibration.to_dict()})
    return ModelRegistry(tmp_path)


@pytest.mark.parametrize("run", ["plain", "honest"])
def test_questions_asked_together_share_a_pass_and_agree_with_one_at_a_time(registry, run):
    loaded = registry.load(run)
    images = np.random.default_rng(0).random((QUESTIONS, 784)).astype(np.float32) ** 3
    hold = Hold(loaded.batcher._compute)
    loaded.batcher = Batcher(hold)

    answers = ask_together(loaded.batcher, images, hold)

    assert hold.calls == [1, QUESTIONS - 1]  # the first alone, then all the others at once
    for image, probabilities in zip(images, answers, strict=True):
        alone = explain.answer(loaded.network, image, calibration=loaded.calibration)
        together = explain.answer(loaded.network, image, calibration=loaded.calibration,
                                  probabilities=probabilities)
        assert together["digit"] == alone["digit"]
        assert together["is_digit"] == alone["is_digit"]
        assert together["prepared"] == alone["prepared"]
        # the same sums in another order (BLAS): equal to float32 rounding
        np.testing.assert_allclose(together["probabilities"], alone["probabilities"],
                                   rtol=0, atol=1e-6)
    assert (loaded.batcher.passes, loaded.batcher.rows) == (2, QUESTIONS)


def test_a_lone_question_is_computed_at_once_by_its_own_thread():
    threads = []
    batcher = Batcher(lambda rows: (threads.append(threading.current_thread()), rows * 2)[1])
    assert np.array_equal(batcher(np.arange(3.0)), [0.0, 2.0, 4.0])
    assert threads == [threading.current_thread()] and batcher.passes == 1


def test_an_error_of_a_pass_reaches_every_question_of_it_and_the_next_pass_runs():
    def compute(rows):
        if (rows < 0).any():
            raise ValueError("a negative row")
        return rows * 2

    hold = Hold(compute)
    batcher = Batcher(hold)
    rows = np.array([[1.0], [2.0], [-3.0], [4.0]])  # the last three share the second pass
    outcomes: list[object] = [None] * len(rows)

    def ask(i: int) -> None:
        try:
            outcomes[i] = float(batcher(rows[i])[0])
        except ValueError as error:
            outcomes[i] = str(error)

    ask_together(batcher, rows, hold, ask)
    assert hold.calls == [1, 3]
    assert outcomes == [2.0, "a negative row", "a negative row", "a negative row"]
    assert np.array_equal(batcher(rows[3]), [8.0])  # the batcher still answers
    assert not batcher._busy and not batcher._queue
