"""Splitting work across the CPU cores, for the parts of a training step that NumPy runs on one.

NumPy releases the GIL inside its array loops and BLAS calls, and so do the compiled kernels, so
plain Python threads run those in parallel. At batch size 32 the matrix products of a step are
too small for BLAS's own threads to pay off, and the elementwise optimizer update does not use
them at all; the training step therefore runs BLAS on one thread and splits its own work into
contiguous parts, one per core.

Each NumPy call has a fixed cost and needs the GIL to start and to finish, so the parts are kept
coarse (whole blocks of 256 gradient rows, elementwise passes over 256 K elements). The parts go
to helper threads, one per extra core, each handed its part through two locks: about 16 µs a
call for the hand-off and the wait, against 50 µs through a ``ThreadPoolExecutor`` (measured).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

Work = Callable[[int, int], None]


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class _Helper:
    """A thread that runs one list of parts at a time: :meth:`start` hands it over, :meth:`join`
    waits for the end and raises what the parts raised."""

    def __init__(self):
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._parts: tuple[Work, list[tuple[int, int]]] | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._serve, name="digitlab-part", daemon=True).start()

    def _serve(self) -> None:
        while True:
            self._go.acquire()
            work, bounds = self._parts
            try:
                for lo, hi in bounds:
                    work(lo, hi)
            except BaseException as error:  # handed to the caller by join()
                self._error = error
            finally:
                self._parts = None
                self._done.release()

    def start(self, work: Work, bounds: list[tuple[int, int]]) -> None:
        self._parts = (work, bounds)
        self._go.release()

    def join(self) -> None:
        self._done.acquire()
        error, self._error = self._error, None
        if error is not None:
            raise error


_helpers: list[_Helper] = []
_in_use = threading.Lock()  # one split at a time; a nested or concurrent one runs in its caller


def _forget_helpers() -> None:  # a forked child has none of the parent's threads
    global _in_use, _cores
    _helpers.clear()
    _in_use = threading.Lock()
    _cores = available_cores()


os.register_at_fork(after_in_child=_forget_helpers)
_cores = available_cores()  # read once: the system call took 10 µs a split


def split(n: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    """``parts`` (or fewer) contiguous pieces (lo, hi) covering range(n), their boundaries
    multiples of ``align``."""
    size = -(-n // max(1, parts))  # ceil
    size = -(-size // align) * align
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)] or [(0, n)]


def in_bounds(work: Work, bounds: list[tuple[int, int]], threads: int) -> None:
    """Call ``work(lo, hi)`` for each piece of ``bounds``, on up to ``threads`` threads at once
    (the calling one included; piece k on thread k mod threads), or one after the other in the
    calling thread when ``threads`` is 1 or another split is running."""
    threads = min(threads, len(bounds), _cores)
    if threads < 2 or not _in_use.acquire(blocking=False):
        for lo, hi in bounds:
            work(lo, hi)
        return
    try:
        while len(_helpers) < threads - 1:
            _helpers.append(_Helper())
        helpers = _helpers[: threads - 1]
        for k, helper in enumerate(helpers, start=1):
            helper.start(work, bounds[k::threads])
        try:
            for lo, hi in bounds[0::threads]:
                work(lo, hi)
        finally:
            for helper in helpers:
                helper.join()
    finally:
        _in_use.release()


def in_parts(work: Work, n: int, parts: int, align: int = 1) -> None:
    """Call ``work(lo, hi)`` on ``parts`` contiguous pieces covering range(n), in parallel.

    Piece boundaries are multiples of ``align``; with ``parts`` = 1, or too little work to
    split, ``work(0, n)`` runs in the calling thread.
    """
    in_bounds(work, split(n, parts, align), parts)
