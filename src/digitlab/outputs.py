"""Can this output be written? Asked before any work starts.

A command that trains for an hour and then cannot save is worse than one that refuses at once,
so every command that writes checks its destinations first: :func:`check_output_folder` for a
folder (``--out DIR``), :func:`check_output_file` for a single file (``--out digits.png``).
Each raises :class:`~digitlab.errors.OutputError` with one line naming the path and the reason:

* a path through a file (``--out notes.txt/run``): a part of the path is a file, not a folder;
* a read-only or immutable folder, ``/proc/...``: a probe file cannot be created in it;
* an image whose suffix names no format the figures can be written in (``--out x.xyz``).

The folder is created if missing (as the command would create it anyway), and the probe file is
removed at once; nothing else is touched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from digitlab.errors import OutputError

PROBE_PREFIX = ".digitlab-write-check."


def check_output_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Make ``path`` a folder digitlab can create files in, or raise :class:`OutputError`."""
    path = Path(path)
    _refuse_path_through_file(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: is a file, expected a folder for the {what}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{path}: cannot create the {what} ({_reason(error)})") from None
    try:
        handle, probe = tempfile.mkstemp(prefix=PROBE_PREFIX, suffix=".tmp", dir=path)
    except OSError as error:
        raise OutputError(f"{path}: cannot write into the {what} ({_reason(error)})") from None
    os.close(handle)
    os.unlink(probe)
    return path


def check_output_file(
    path: str | os.PathLike, suffixes: Iterable[str] | None = None, what: str = "output file",
) -> Path:
    """Check that the file ``path`` can be written (atomically, beside itself).

    ``suffixes`` (lower case, with the dot) are the formats the writer knows, e.g. those of
    :func:`figure_suffixes`; another suffix is refused before anything is computed.
    """
    path = Path(path)
    if suffixes is not None:
        known = sorted(set(suffixes))
        if path.suffix.lower() not in known:
            found = f"{path.suffix!r}" if path.suffix else "no suffix"
            raise OutputError(f"{path}: unknown file format ({found}); expected a name ending in "
                              f"{', '.join(known)}")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, expected a file name for the {what}")
    check_output_folder(path.parent, what=f"folder of the {what}")
    return path


def figure_suffixes() -> tuple[str, ...]:
    """The suffixes matplotlib can save a figure as (``.png``, ``.pdf``, ``.svg``...)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return tuple(f".{name}" for name in FigureCanvasAgg.get_supported_filetypes())


def _refuse_path_through_file(path: Path) -> None:
    """``notes.txt/run``: a part of the path exists but is a file, so nothing can go below it."""
    for part in reversed(path.parents):
        if part.exists() and not part.is_dir():
            raise OutputError(f"{path}: {part} is a file, not a folder")


def _reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):  # its folder exists: /proc, /sys
        return "this file system does not allow new files or folders there"
    return error.strerror or str(error)
