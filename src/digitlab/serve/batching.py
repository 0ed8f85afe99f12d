"""Predictions answered by one thread of their own, every waiting request in one pass.

The endpoints ``/api/predict`` and ``/api/predict-prepared`` check what was sent on the event
loop, then hand a :class:`Prediction` to one :class:`BatchWorker` and await its answer. The
worker's thread takes every prediction waiting at that moment (at most :data:`MAX_ROWS`) and
answers them together (:func:`answer_predictions`): each upload decoded and prepared, the images
asked of one network stacked (B, 784) and read in one forward pass, then each answer explained
and written as JSON, in the language of its request.

Why one thread and not one per request: the Python parts of a request (decoding, preparing,
JSON) hold the interpreter's lock, so request threads add no parallelism on them, only hand-offs
and waits for the lock, while each ran its own matrix-vector products on the same two cores. One
thread runs them back to back; the network's weights (about 7 MB for 784-1024-1024-10) stream
through the cache once per pass instead of once per request, and the event loop keeps reading
the next requests (the lock is released during the products), which then form the next pass.
A lone request takes the same path and is computed at once: no request waits for company.

Each row of a batched pass is the same product as the row alone, summed in another order by
BLAS: the answers agree with one-at-a-time answers to float32 rounding (tested).
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi.responses import JSONResponse

from digitlab.serve import explain, inputs
from digitlab.serve.models import LoadedModel, ModelRegistry

MAX_ROWS = 64  # predictions of one pass (more wait for the next)


@dataclass
class Prediction:
    """One request's question: the model (None: the active one), the uploaded PNG/JPEG bytes or
    the prepared image (784,), and whether to explain and show the layers (flags checked)."""

    model: str | None
    upload: bytes | None = None
    image: np.ndarray | None = None  # (784,) float32, when prepared already
    explain: bool = False
    layers: bool = False
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


class BatchWorker:
    """``await worker(item)`` is ``handle(items)[i]`` for the item, where ``items`` are all
    the items waiting when the worker's thread took them, in order of arrival.

    ``handle`` runs on the worker's one thread; an exception it puts in place of an answer is
    raised in that item's awaiting task, an exception it raises in every task of the pass. The
    thread starts with the first item and stops with :meth:`stop` (it is a daemon: it never holds
    the process up).
    """

    def __init__(self, handle: Callable[[list[Any]], list[Any]], max_items: int = MAX_ROWS,
                 name: str = "digitlab-batch"):
        self._handle, self._max_items, self._name = handle, max_items, name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.passes = 0  # passes run, and items answered by them (for benchmarks and tests)
        self.items = 0

    async def __call__(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((item, future, loop))
        if self._thread is None:
            self._start()
        return await future

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Answer what is queued, then end the thread (a later item starts a new one)."""
        with self._start_lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
                thread.join()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_items:
                try:
                    waiting = self._queue.get_nowait()
                except queue.Empty:
                    break
                if waiting is None:  # stop after this pass
                    self._queue.put(None)
                    break
                batch.append(waiting)
            self._answer(batch)

    def _answer(self, batch: list[tuple[Any, asyncio.Future, asyncio.AbstractEventLoop]]) -> None:
        try:
            answers = self._handle([item for item, _, _ in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"{len(answers)} answers to {len(batch)} questions")
        except BaseException as error:  # every request of this pass hears of it
            answers = [error] * len(batch)
        self.passes += 1
        self.items += len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any]]] = {}
        for (_, future, loop), answer in zip(batch, answers, strict=True):
            by_loop.setdefault(loop, []).append((future, answer))
        for loop, settled in by_loop.items():  # one wake-up of each event loop per pass
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                pass


def _settle(settled: list[tuple[asyncio.Future, Any]]) -> None:
    for future, answer in settled:
        if future.done():  # the request was cancelled (its client left)
            continue
        if isinstance(answer, BaseException):
            future.set_exception(answer)
        else:
            future.set_result(answer)


def answer_predictions(registry: ModelRegistry,
                       predictions: list[Prediction]) -> list[JSONResponse | Exception]:
    """The answers to ``predictions``, in order: each a :class:`JSONResponse` as
    ``POST /api/predict`` sends it, or the error (an ``ApiError``) to send instead.

    1. each prediction's model loaded and its upload prepared (784,) (in its request's context:
       errors speak its language);
    2. per model, the images stacked (B, 784) and read in one pass (:func:`explain.read_and_decide`:
       preprocessing, then the calibrated probabilities (B, 10));
    3. each answer explained (:func:`explain.answer` with its row of probabilities) and
       written as JSON, with the rows of its pass in a ``Server-Timing`` entry
       (``batch;desc=B``).
    """
    answers: list[Any] = [None] * len(predictions)
    models: list[LoadedModel | None] = [None] * len(predictions)
    for i, question in enumerate(predictions):
        try:
            models[i], question.image = question.context.run(_prepare, registry, question)
        except Exception as error:  # noqa: BLE001 - an ApiError, or a bug reported as a 500
            answers[i] = error
    rows: dict[int, list[int]] = {}  # id of a LoadedModel -> the predictions it reads
    for i, model in enumerate(models):
        if model is not None:
            rows.setdefault(id(model), []).append(i)
    for indices in rows.values():
        model = models[indices[0]]
        assert model is not None
        try:
            images = np.stack([predictions[i].image for i in indices])  # (B, 784)
            probabilities, digit_like = explain.read_and_decide(
                model.network, images, model.preprocessing, model.calibration)  # (B, 10), (B,)
        except Exception as error:  # noqa: BLE001 - reaches each request of this model
            for i in indices:
                answers[i] = error
            continue
        for i, row, like in zip(indices, probabilities, digit_like, strict=True):
            try:
                answers[i] = predictions[i].context.run(_respond, model, predictions[i], row,
                                                        bool(like))
            except Exception as error:  # noqa: BLE001
                answers[i] = error
            else:  # how many rows the forward pass read (benchmarks/bench_serve.py)
                answers[i].headers.append("server-timing", f"batch;desc={len(indices)}")
    return answers


def _prepare(registry: ModelRegistry, question: Prediction) -> tuple[LoadedModel, np.ndarray]:
    model = registry.load(question.model)
    if question.image is not None:
        return model, question.image
    assert question.upload is not None
    return model, inputs.prepare_uploaded_image(question.upload)


def _respond(model: LoadedModel, question: Prediction, probabilities: np.ndarray,
             is_digit: bool) -> JSONResponse:
    single = not model.is_ensemble  # an ensemble has no one network's gradient and units
    return JSONResponse({"model": model.entry.id, **explain.answer(
        model.network, question.image, explain=question.explain and single,
        preprocessing=model.preprocessing, calibration=model.calibration,
        layers=question.layers and single, probabilities=probabilities,
        is_digit=is_digit)})
