"""Atomic file writes, and JSON files read within limits.

Writes go to a temporary file beside the target, then a rename. A crash, Ctrl-C or full disk in
the middle of a write therefore never leaves a half-written model, cache or report behind: the
target either keeps its old content or gets the new one.

Reads of JSON that may come from elsewhere (a run folder someone copied in) are bounded: the
file's size is capped and its nesting measured before it is parsed (:func:`read_json`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import IO, Any

from digitlab.checks import bounded_int
from digitlab.errors import DataError, Message

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
MAX_JSON_BYTES = 1 << 20  # the JSON files of a run (evaluation.json, config.json) are a few kB
MAX_JSON_DEPTH = 32  # they nest a few levels deep


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file for writing; on success rename it to ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates mode 0600; give the result the old file's mode, or rw-r--r--.
    final_mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    # the writer's pid in the name: a later write to the same path removes what a killed
    # writer left (see _remove_orphans)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                                    dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, final_mode)
        os.replace(tmp_name, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(error, OSError) and error.filename is None and error.errno:
            # e.g. "No space left on device" from a write: name the file it was for
            raise OSError(error.errno, error.strerror or str(error), str(path)) from error
        raise
    _remove_orphans(path)


def _remove_orphans(path: Path) -> None:
    """Delete the temporary files of earlier writes to ``path`` whose writer no longer runs (it
    was killed, e.g. by kill -9, before it could clean up); those of live writers stay."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\.[a-z0-9_]{{8}}\.tmp$")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        if match is None or _running(int(match.group(1))):
            continue
        orphan = path.parent / name
        if orphan.is_file() and not orphan.is_symlink():
            with contextlib.suppress(OSError):
                orphan.unlink()


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts as running)."""
    if pid == os.getpid() or os.name == "nt":  # this process; Windows' signal 0 is Ctrl-C
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    """JSON for NumPy scalars and arrays, which the standard encoder refuses."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def json_depth(text: str) -> int:
    """How deeply ``[`` and ``{`` nest in the JSON ``text`` (brackets inside strings ignored).

    Counted without parsing, so a hostile file nested 100,000 levels deep is measured, not
    recursed into.
    """
    outside = _JSON_STRING.sub("", text)
    # the running sum of +1 per opening and -1 per closing bracket, in C loops (no NumPy, so
    # that reading a run's JSON does not load it)
    steps = map(_DEPTH_STEP.__getitem__, _BRACKET.findall(outside))
    return max(accumulate(steps), default=0)


def parse_json(text: str | bytes, name: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``text`` parsed as JSON once its nesting is known to be at most ``max_depth``, its
    integers at most :data:`~digitlab.checks.MAX_INTEGER_DIGITS` digits long.

    Every failure (bad UTF-8, bad JSON, too deep, too long a number) is one
    :class:`DataError` naming ``name``.
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        depth = json_depth(text)
        if depth > max_depth:
            raise DataError(Message("{name}: nested {depth} levels deep (at most {most} "
                                    "allowed)", name=name, depth=format(depth, ","),
                                    most=max_depth))
        return json.loads(text, parse_int=bounded_int)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise DataError(Message("{name}: not valid JSON ({error})", name=name,
                                error=str(error))) from None


def read_json(path: str | os.PathLike, *, max_bytes: int = MAX_JSON_BYTES,
              max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON file ``path``, read only if it is at most ``max_bytes`` long and nested at most
    ``max_depth`` levels deep; every failure is one :class:`DataError` naming the file."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as error:
        raise DataError(Message("{path}: cannot be read ({error})", path=path,
                                error=error.strerror or str(error))) from None
    if len(raw) > max_bytes:
        raise DataError(Message("{path}: larger than {size} bytes", path=path,
                                size=format(max_bytes, ",")))
    return parse_json(raw, str(path), max_depth=max_depth)


#: The names :func:`atomic_write` (``.NAME.PID.XXXXXXXX.tmp``) and the downloader
#: (``.NAME.XXXXXXXX.part``) give their temporary files: ``tempfile``'s eight random characters.
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.(tmp|part)$")


def remove_stale_temporaries(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    """Delete the temporary files digitlab's own writers left in ``folder`` when they were killed.

    Only names of digitlab's own kind are touched (``.model.npz.k3j_x9qa.tmp``,
    ``.train-images-idx3-ubyte.gz.ab12cd34.part``); anything else is left alone. Call it only
    while holding the folder's lock (:mod:`digitlab.runlock`): then no live writer can be using
    them. Returns the files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    walk = os.walk(folder) if recursive else [(str(folder), [], os.listdir(folder))]
    for root, _, names in walk:
        for name in names:
            path = Path(root) / name
            if _TEMPORARY.match(name) and path.is_file() and not path.is_symlink():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed
