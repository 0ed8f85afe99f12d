"""Splitting work across the CPU cores, for the parts of a training step that NumPy runs on one.

NumPy releases the GIL inside its array loops and BLAS calls, so plain Python threads run those
in parallel. At batch size 32 the matrix products of a step are too small for BLAS's own threads
to pay off, and the elementwise optimizer update does not use them at all; the training step
therefore runs BLAS on one thread and splits its own work into contiguous parts, one per core.

Each NumPy call has a fixed cost and needs the GIL to start and to finish, so the parts are kept
coarse (whole blocks of 256 gradient rows, elementwise passes over 256 K elements), and the
small elementwise work between layers stays on the calling thread: split over the threads, it
measured slower.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

_pool: ThreadPoolExecutor | None = None


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def split(n: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    """``parts`` (or fewer) contiguous pieces (lo, hi) covering range(n), their boundaries
    multiples of ``align``."""
    size = -(-n // max(1, parts))  # ceil
    size = -(-size // align) * align
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)] or [(0, n)]


def in_bounds(work: Callable[[int, int], None], bounds: list[tuple[int, int]],
              threads: int) -> None:
    """Call ``work(lo, hi)`` for each piece of ``bounds``: on up to ``threads`` threads at once,
    or one after the other in the calling thread when ``threads`` is 1."""
    global _pool
    if threads < 2 or len(bounds) < 2:
        for lo, hi in bounds:
            work(lo, hi)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=max(1, available_cores() - 1),
                                   thread_name_prefix="digitlab")
    others = [_pool.submit(work, lo, hi) for lo, hi in bounds[1:]]
    work(*bounds[0])
    for future in others:
        future.result()


def in_parts(work: Callable[[int, int], None], n: int, parts: int, align: int = 1) -> None:
    """Call ``work(lo, hi)`` on ``parts`` contiguous pieces covering range(n), in parallel.

    Piece boundaries are multiples of ``align``; with ``parts`` = 1, or too little work to
    split, ``work(0, n)`` runs in the calling thread.
    """
    in_bounds(work, split(n, parts, align), parts)
