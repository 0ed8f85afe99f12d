"""Where trials run: a pool of local processes, or Ray (one machine or a cluster).

Both executors take the trials to run and a callback ``on_result(trial, result)``, called in this
process as each trial finishes (the caller stores it at once). Each runs one trial per CPU with
one BLAS thread per trial, so that parallel trials do not fight over the cores: the environment
variables below are set in every worker before NumPy loads its BLAS, and
:func:`~digitlab.studies.trials.run_trial` also limits the threads with threadpoolctl.

This module imports nothing heavy at the top: a spawned worker imports it to run the
initializer, before NumPy is loaded.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from digitlab.errors import DigitlabError

EXECUTORS = ("local", "ray")

#: One thread for every BLAS and OpenMP library NumPy may use.
BLAS_ENV = {
    name: "1"
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
}

OnResult = Callable[[Any, dict[str, Any]], None]


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# ---------------------------------------------------------------------- local processes
#: how often a worker checks that the sweep process that started it is still there (seconds)
PARENT_CHECK_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent ends


def pin_worker(parent: int | None = None) -> None:
    """Initializer of a local worker: one BLAS thread, Ctrl-C left to the main process, and an
    end with the sweep process ``parent`` (its pid), however that ends."""
    import threading

    from tqdm import tqdm

    os.environ.update(BLAS_ENV)
    # The terminal sends Ctrl-C to the whole process group; the main process stops the sweep
    # and ends the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Workers show no progress bars; without this, tqdm would make a multiprocessing lock in
    # each worker, reported as a leaked semaphore when the sweep is interrupted.
    tqdm.set_lock(threading.RLock())
    if parent is not None:
        die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """End this process as soon as its parent ``parent`` has ended, even by kill -9 (which
    leaves it no chance to end its workers): otherwise an orphan would keep its memory and the
    parent's output pipe, asleep on a queue nobody writes to any more.

    On Linux the kernel sends SIGKILL when the parent dies (``PR_SET_PDEATHSIG``); everywhere, a
    daemon thread checks every :data:`PARENT_CHECK_SECONDS` that the parent is still the one.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc: the thread below still watches
            pass
    if os.getppid() != parent:  # it died before this process could ask to be told
        os._exit(1)
    import threading

    threading.Thread(target=_watch_parent, args=(parent,), name="digitlab-watch-parent",
                     daemon=True).start()


def _watch_parent(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


class SweepTerminated(DigitlabError):
    """SIGTERM arrived while a local sweep ran: its workers were ended first."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SweepTerminated("stopped by SIGTERM; the finished trials are stored, run the same "
                          "command again to resume")


def run_local(trials: Sequence[Any], on_result: OnResult, *, workers: int) -> None:
    """Run ``trials`` in ``workers`` spawned processes, reporting each result as it finishes.

    The workers end with this process: on SIGTERM (while this runs in the main thread) the
    pool is stopped and :class:`SweepTerminated` raised; if this process is killed outright,
    each worker notices and exits (:func:`die_with_parent`).
    """
    import threading

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        _run_pool(trials, on_result, workers)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _run_pool(trials: Sequence[Any], on_result: OnResult, workers: int) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from digitlab.studies.trials import run_trial

    # "spawn": a fresh interpreter per worker, safe with threads and the same on every OS.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=pin_worker,
                               initargs=(os.getpid(),))
    try:
        futures = {pool.submit(run_trial, trial): trial for trial in trials}
        for future in as_completed(futures):
            on_result(futures[future], future.result())
    except BrokenProcessPool:
        _stop(pool)
        raise DigitlabError(
            "a sweep worker process died (out of memory?); the finished trials are stored, "
            "run the same command again to resume"
        ) from None
    except BaseException:  # Ctrl-C or an error storing a result: stop at once
        _stop(pool)
        raise
    pool.shutdown()


def _stop(pool: Any) -> None:
    """Cancel queued trials and end the running ones (their results are not needed)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    # Before 3.14 the pool has no public way to end running tasks: end its processes, then
    # let it notice and release its queues.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------- Ray
def import_ray() -> Any:
    """The ``ray`` module, or a clear error telling how to install it."""
    try:
        import ray
    except ImportError:
        raise DigitlabError(
            "the ray executor needs Ray: pip install 'digitlab[ray]'"
        ) from None
    return ray


def run_ray(
    trials: Sequence[Any], on_result: OnResult, *, workers: int, address: str | None = None,
) -> None:
    """Run ``trials`` as Ray tasks of one CPU each, reporting each result as it finishes.

    Without ``address`` a new local Ray runtime with ``workers`` CPUs is started (and shut down
    at the end), whatever ``RAY_ADDRESS`` or an earlier ``ray start`` on this machine says.
    With ``address`` (``host:port`` of a cluster started by ``ray start --head``, or
    ``"auto"``) the trials run on that cluster, whose nodes need digitlab installed and, with
    ``--data``, the data folder at the same path. A Ray runtime already initialised in this
    process is used as it is.
    """
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        import logging

        options = {"runtime_env": {"env_vars": dict(BLAS_ENV)}, "log_to_driver": False,
                   "logging_level": logging.WARNING}
        try:
            if address:
                _check_reachable(address)
                _use_cluster_token()
                ray.init(address=address, **options)
            else:  # a new runtime, even where `ray start` left a cluster (join it with "auto")
                ray.init(address="local", num_cpus=workers, include_dashboard=False, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = f"join the Ray cluster at {address}" if address else "start Ray"
            raise DigitlabError(f"cannot {where}: {error}") from None
    try:
        _run_ray_tasks(ray, trials, on_result)
    finally:
        if started:
            ray.shutdown()


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast when ``host:port`` does not answer (Ray itself retries for minutes)."""
    import socket

    host, _, port = address.rpartition(":")
    if address == "auto" or "://" in address or not host or not port.isdigit():
        return  # "auto", a Ray client address or a form Ray checks itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ConnectionError(
            f"nothing answers at {address} ({error}); start a head node with "
            "`ray start --head` and pass the address it prints"
        ) from None


def _use_cluster_token() -> None:
    """Join with the auth token that ``ray start --head`` put in ``~/.ray/auth_token``.

    Recent Ray starts head nodes with token authentication when a token exists, but
    ``ray.init(address=...)`` only sends it when ``RAY_AUTH_MODE=token`` was set before Ray
    read its config. Ray's own helper for ``ray start`` does exactly that; an explicit
    ``RAY_AUTH_MODE`` is respected.
    """
    if "RAY_AUTH_MODE" in os.environ:
        return
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _run_ray_tasks(ray: Any, trials: Sequence[Any], on_result: OnResult) -> None:
    task = ray.remote(num_cpus=1, max_retries=0)(run_trial_pinned)
    pending = {task.remote(trial): trial for trial in trials}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                trial = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as error:
                    raise DigitlabError(
                        f"a Ray task died while running trial {trial.key} "
                        f"({type(error).__name__}); the finished trials are stored, run the "
                        "same command again to resume"
                    ) from None
                on_result(trial, result)
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise


def run_trial_pinned(trial: Any) -> dict[str, Any]:
    """A Ray task: :func:`~digitlab.studies.trials.run_trial` with one BLAS thread."""
    os.environ.update(BLAS_ENV)  # for libraries loaded from now on (the runtime env did the rest)
    from digitlab.studies.trials import run_trial

    return run_trial(trial)
