"""The thread split of a training step (digitlab.nn.parallel): every piece runs once, on the
threads asked for, errors reach the caller, and a split inside a split runs in its caller."""

import itertools
import threading

import pytest

from digitlab.nn import parallel


def test_every_piece_runs_once_and_the_pieces_cover_the_range():
    seen, lock = [], threading.Lock()

    def work(lo, hi):
        with lock:
            seen.append((lo, hi, threading.get_ident()))

    bounds = parallel.split(1000, 7, align=16)
    assert bounds[0][0] == 0 and bounds[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(lo % 16 == 0 for lo, _ in bounds)
    parallel.in_bounds(work, bounds, threads=2)
    assert sorted((lo, hi) for lo, hi, _ in seen) == bounds
    threads = {ident for *_, ident in seen}
    assert len(threads) == min(2, parallel.available_cores())


def test_one_thread_runs_everything_in_the_caller():
    idents = []
    parallel.in_parts(lambda lo, hi: idents.append(threading.get_ident()), 100, parts=1)
    parallel.in_bounds(lambda lo, hi: idents.append(threading.get_ident()), [(0, 1), (1, 2)], 1)
    assert set(idents) == {threading.get_ident()}


@pytest.mark.skipif(parallel.available_cores() < 2, reason="one core: nothing runs in a helper")
def test_an_error_in_a_helper_reaches_the_caller_and_the_helpers_keep_working():
    def work(lo, hi):
        if lo == 1:
            raise ValueError("piece 1 failed")

    with pytest.raises(ValueError, match="piece 1 failed"):
        parallel.in_bounds(work, [(0, 1), (1, 2)], threads=2)
    done = []
    parallel.in_bounds(lambda lo, hi: done.append(lo), [(0, 1), (1, 2)], threads=2)
    assert sorted(done) == [0, 1]


def test_a_split_inside_a_split_runs_in_its_own_caller():
    inner = []

    def outer(lo, hi):
        me = threading.get_ident()
        parallel.in_bounds(lambda a, b: inner.append(threading.get_ident() == me),
                           [(0, 1), (1, 2)], threads=2)

    parallel.in_bounds(outer, [(0, 1), (1, 2)], threads=2)
    assert len(inner) == 4 and all(inner)
