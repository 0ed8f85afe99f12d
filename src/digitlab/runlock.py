"""One writer per folder: an operating-system lock held while a command writes a run folder.

Two ``digitlab train --out runs/a`` started together would otherwise both write ``model.npz``,
each replacing the other's. :func:`folder_lock` takes an exclusive ``flock`` on the file
``.digitlab.lock`` inside the folder and writes the holder's process id and command line into
it; a second process finds the lock taken and stops with :class:`~digitlab.errors.FolderInUse`,
naming the folder and that process. The kernel drops the lock when its process ends, however it
ends (even ``kill -9``), so a stale lock file never blocks anyone: the next process simply takes
the lock and writes its own id.

The lock file is removed on release. Since another process may have opened it just before, a
process that gets the lock checks that the file it locked is still the one in the folder, and
otherwise tries again. The lock is re-entrant within a process (a command holding its run
folder may call :func:`digitlab.training.train`, which takes the same lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from digitlab.errors import FolderInUse, OutputError
from digitlab.fileio import remove_stale_temporaries
from digitlab.outputs import check_output_folder

LOCK_FILE = ".digitlab.lock"
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
    fd = _acquire(folder, what)
    _held[key] = 1
    try:
        yield folder
    finally:
        del _held[key]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / LOCK_FILE)
        os.close(fd)


def _acquire(folder: Path, what: str) -> int:
    path = folder / LOCK_FILE
    for _ in range(100):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise OutputError(f"{folder}: cannot create the lock file of the {what} "
                              f"({error.strerror or error})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(fd)
            os.close(fd)
            raise FolderInUse(f"{folder}: the {what} is in use by another digitlab process "
                              f"({holder}); wait for it to finish or choose another folder") \
                from None
        except OSError as error:
            os.close(fd)
            raise OutputError(f"{folder}: cannot lock the {what} "
                              f"({error.strerror or error})") from None
        if _still_in_place(fd, path):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n{_command_line()}\n".encode(), 0)
            return fd
        os.close(fd)  # the previous holder removed the file we opened: open the new one
    raise OutputError(f"{folder}: could not take the lock of the {what}")


def _still_in_place(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _describe_holder(fd: int) -> str:
    """'PID 1234: digitlab train --out runs/a' from the lock file (as far as it is written)."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
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
                folder.rmdir()
        raise
