"""One writer per folder: an operating-system lock held while a command writes a run folder.

Two ``digitlab train --out runs/a`` started together would otherwise both write ``model.npz``,
each replacing the other's. :func:`folder_lock` takes an exclusive lock on the file
``.digitlab.lock`` inside the folder through the cross-platform ``filelock`` library (``flock``
on Unix, ``msvcrt.locking`` on Windows) and writes the holder's process id and command line
into ``.digitlab.holder``; a second process finds the lock taken and stops with
:class:`~digitlab.errors.FolderInUse`, naming the folder and that process. The operating
system drops the lock when its process ends, however it ends (even ``kill -9``), so a stale
lock never blocks anyone: the next process simply takes the lock and writes its own id.

The holder file is removed on release (the lock file too, where the ``filelock`` version
removes it). The lock is re-entrant within a process (a command holding its run folder may
call :func:`digitlab.training.train`, which takes the same lock).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from digitlab.errors import FolderInUse, OutputError
from digitlab.fileio import remove_stale_temporaries, write_text
from digitlab.outputs import check_output_folder

#: the file the operating-system lock is taken on, and the one naming its holder
LOCK_FILE, HOLDER_FILE = ".digitlab.lock", ".digitlab.holder"
_held: dict[Path, int] = {}  # resolved folder -> how many times this process holds it


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "folder") -> Iterator[Path]:
    """Hold ``folder``'s lock for the ``with`` block (the folder must exist).

    Raises :class:`FolderInUse` at once (no waiting) when another process holds it.
    """
    folder = Path(folder)
    key = folder.resolve()
    if key in _held:
        _held[key] += 1
        try:
            yield folder
        finally:
            _held[key] -= 1
        return
    lock = _acquire(folder, what)
    _held[key] = 1
    try:
        yield folder
    finally:
        del _held[key]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / HOLDER_FILE)
        lock.release()


def _acquire(folder: Path, what: str) -> FileLock:
    """The folder's lock, taken without waiting, its holder file written."""
    # thread_local=False: a lock taken by one thread may be released by another
    lock = FileLock(folder / LOCK_FILE, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise FolderInUse(f"{folder}: the {what} is in use by another digitlab process "
                          f"({_describe_holder(folder)}); wait for it to finish or choose "
                          "another folder") from None
    except OSError as error:
        raise OutputError(f"{folder}: cannot lock the {what} "
                          f"({error.strerror or error})") from None
    try:
        write_text(folder / HOLDER_FILE, f"{os.getpid()}\n{_command_line()}\n")
    except OSError as error:
        lock.release()
        raise OutputError(f"{folder}: cannot write the lock's holder file of the {what} "
                          f"({error.strerror or error})") from None
    return lock


def _describe_holder(folder: Path) -> str:
    """'PID 1234: digitlab train --out runs/a' from the holder file (as far as it is written)."""
    try:
        with open(folder / HOLDER_FILE, "rb") as handle:
            text = handle.read(4096).decode("utf-8", "replace")
    except OSError:
        text = ""
    pid, _, command = text.partition("\n")
    pid = pid.strip() if pid.strip().isdigit() else "unknown"
    command = " ".join(command.split())[:200]
    return f"PID {pid}" + (f": {command}" if command else "")


def _command_line() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return " ".join([name, *sys.argv[1:]])[:1000].replace("\n", " ")


@contextlib.contextmanager
def claim_folder(folder: str | os.PathLike, what: str = "run folder", *,
                 recursive: bool = False) -> Iterator[Path]:
    """What a command does with its output folder before any work: check that it can be
    written (:func:`~digitlab.outputs.check_output_folder`), lock it, and remove the temporary
    files that killed writers left in it (below it too with ``recursive``)."""
    created = not Path(folder).exists()
    folder = check_output_folder(folder, what)
    try:
        with folder_lock(folder, what):
            remove_stale_temporaries(folder, recursive=recursive)
            yield folder
    except BaseException:
        if created:  # a command that failed before writing anything leaves no empty folder
            with contextlib.suppress(OSError):
                if os.listdir(folder) == [LOCK_FILE]:  # filelock keeps its file on release
                    os.unlink(folder / LOCK_FILE)
                folder.rmdir()
        raise
