"""Questions to one network asked at the same time, answered by one forward pass.

Each request of the lab runs in a thread of its own. When several ask the same network at
once, :class:`Batcher` stacks their images (B, 784) and runs the network once: the weights
(about 7 MB for 784-1024-1024-10) stream through the cache once for all B rows instead of once
per row, and B threads no longer compete for the cores with B matrix-vector products.

No request waits for company: the first to arrive while no pass runs computes at once; those
that arrive during a pass queue up and go together into the next one, which the first of them
computes (the lead is handed over; no thread of its own runs). A lone request therefore takes
the same path as before, and under load the batch grows by itself with the queue.

Each row of a batched pass is the same product as the row alone, summed in another order by
BLAS: the answers agree with one-at-a-time answers to float32 rounding (tested).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

MAX_ROWS = 64  # rows of one pass (more wait for the next)


class _Question:
    """One row handed in, and how it was answered."""

    __slots__ = ("row", "ready", "lead", "answer", "error")

    def __init__(self, row: np.ndarray):
        self.row = row
        self.ready = threading.Event()  # set when answered, or when handed the lead
        self.lead = False  # this question's thread computes the next pass
        self.answer: np.ndarray | None = None
        self.error: BaseException | None = None

    def result(self) -> np.ndarray:
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer


class Batcher:
    """``batcher(row)`` is ``compute(rows)[i]`` for the row, computed together with the rows
    other threads hand in meanwhile.

    ``compute`` takes rows (B, n) and returns one answer per row, (B, ...); it is called by one
    thread at a time. An error it raises reaches every request of that pass.
    """

    def __init__(self, compute: Callable[[np.ndarray], np.ndarray], max_rows: int = MAX_ROWS):
        self._compute = compute
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._queue: list[_Question] = []
        self._busy = False  # a pass is being computed (or its lead handed over)
        self.passes = 0  # forward passes run, and rows answered by them (for benchmarks)
        self.rows = 0

    def __call__(self, row: np.ndarray) -> np.ndarray:
        mine = _Question(np.asarray(row))
        with self._lock:
            self._queue.append(mine)
            lead = not self._busy
            self._busy = True
        if not lead:
            mine.ready.wait()
            if not mine.lead:
                return mine.result()  # answered by another thread's pass
        self._run_pass()
        return mine.result()

    def _run_pass(self) -> None:
        """Answer the questions at the head of the queue (the lead's own is the first), then
        hand the lead to the next waiting question, if any."""
        with self._lock:
            batch = self._queue[: self._max_rows]
            del self._queue[: self._max_rows]
        try:
            answers = self._compute(np.stack([q.row for q in batch]))
            for question, answer in zip(batch, answers, strict=True):
                question.answer = answer
        except BaseException as error:  # every request of this pass hears of it
            for question in batch:
                question.error = error
        with self._lock:
            self.passes += 1
            self.rows += len(batch)
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.ready.set()
            else:
                self._busy = False
        for question in batch:
            question.ready.set()
