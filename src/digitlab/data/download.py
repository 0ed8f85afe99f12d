"""Fetch a dataset's published files into the cache, each verified by SHA-256 before use.

The rules, in the order they apply:

* Mirrors are tried in order; a network error, an HTTP error, a size or a SHA-256 mismatch moves
  on to the next mirror.
* Transport is never downgraded. A mirror is fetched with its own scheme: ``https`` mirrors
  (all the built-in ones but Fashion-MNIST's last resort) only over https, and a redirect from
  https to anything else is refused. Plain ``http`` is used only when the mirror URL itself is
  written ``http://`` — the tests use that for a server on 127.0.0.1 — and even then the file
  must match its SHA-256, so the scheme can affect privacy but never the bytes used.
* A file is streamed into a temporary file in the cache folder and renamed into place only once
  its SHA-256 matches; an interrupted or rejected transfer leaves nothing behind.
* A file already in the cache is trusted only if its SHA-256 matches; otherwise it is fetched
  again. Only these published, verified files are ever read from the cache (see
  :func:`digitlab.data.load_dataset`); other copies placed beside them are ignored.
* One download per cache folder runs at a time (:mod:`digitlab.runlock`); the ``.part`` files
  a killed download left behind are removed by the next one.

The URL opener and the mirror list can be injected (tests serve small files from 127.0.0.1).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digitlab.data.catalog import SPECS, RemoteFile, dataset_cache_dir
from digitlab.errors import DataError, DownloadError
from digitlab.runlock import claim_folder

#: ``opener(url, timeout)`` returns a response with ``read(n)``, ``headers``, ``geturl()`` and
#: context-manager support, like ``urllib.request.urlopen``.
Opener = Callable[[str, float], Any]
#: ``progress(file_name, bytes_done, bytes_total_or_None)``, called as blocks arrive.
Progress = Callable[[str, int, "int | None"], None]

DEFAULT_TIMEOUT = 30.0
_BLOCK = 1 << 16


class _Rejected(Exception):
    """A mirror's answer that must not be used (wrong size, wrong hash, insecure redirect)."""


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_downgrade(from_url: str, to_url: str) -> bool:
    """Whether going from ``from_url`` to ``to_url`` would leave https (or use another scheme)."""
    old, new = urlsplit(from_url).scheme.lower(), urlsplit(to_url).scheme.lower()
    if new not in ("https", "http"):
        return True
    return old == "https" and new != "https"


class NoDowngradeRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects except those from https to http (or to any non-web scheme)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        if is_downgrade(req.full_url, newurl):
            raise urllib.error.URLError(
                f"refused redirect from {req.full_url} to {newurl} (https is never downgraded)"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def default_opener(url: str, timeout: float) -> Any:
    """Open ``url`` with urllib, refusing redirects that leave https."""
    opener = urllib.request.build_opener(NoDowngradeRedirectHandler())
    request = urllib.request.Request(url, headers={"User-Agent": "digitlab"})
    return opener.open(request, timeout=timeout)


def _fetch_to(url: str, remote: RemoteFile, dest: Path, opener: Opener, timeout: float,
              progress: Progress | None) -> None:
    """Download ``url`` to ``dest`` if and only if it matches ``remote``; else raise."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("https", "http"):
        raise _Rejected(f"unsupported scheme {scheme!r} (only https, or http mirrors)")
    part = tempfile.NamedTemporaryFile(
        dir=dest.parent, prefix=f".{remote.name}.", suffix=".part", delete=False
    )
    try:
        with part, opener(url, timeout) as response:
            final_url = response.geturl() if hasattr(response, "geturl") else url
            if final_url and is_downgrade(url, final_url):
                raise _Rejected(f"redirected from {url} to {final_url} (https is never downgraded)")
            length = response.headers.get("Content-Length") if response.headers else None
            total = int(length) if length and length.isdigit() else None
            if total is not None and remote.size is not None and total != remote.size:
                raise _Rejected(f"announces {total:,} bytes, expected {remote.size:,}")
            expected = total if total is not None else remote.size
            digest = hashlib.sha256()
            done = 0
            while block := response.read(_BLOCK):
                done += len(block)
                if remote.size is not None and done > remote.size:
                    raise _Rejected(f"sends more than the expected {remote.size:,} bytes")
                digest.update(block)
                part.write(block)
                if progress is not None:
                    progress(remote.name, done, expected)
            if total is not None and done != total:
                raise _Rejected(f"transfer ended after {done:,} of {total:,} bytes")
        if digest.hexdigest() != remote.sha256:
            raise _Rejected(f"SHA-256 mismatch: got {digest.hexdigest()}, expected {remote.sha256}")
        os.replace(part.name, dest)
    finally:
        Path(part.name).unlink(missing_ok=True)  # no-op once renamed into place


def fetch_file(
    remote: RemoteFile,
    folder: str | os.PathLike,
    mirrors: Sequence[str],
    *,
    opener: Opener | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> Path:
    """Make ``folder/remote.name`` a verified copy of ``remote``, fetching it if needed.

    Parameters
    ----------
    remote : RemoteFile
        The file's name, SHA-256 and (optional) size.
    folder : str or os.PathLike
        Destination folder (created if missing).
    mirrors : sequence of str
        Base URLs tried in order; the file's URL is ``base + "/" + remote.name``.
    opener : callable, optional
        ``opener(url, timeout)``; defaults to urllib with https-downgrade protection.
    timeout : float
        Seconds to wait on each connection or read.
    progress : callable, optional
        ``progress(name, bytes_done, bytes_total_or_None)``.

    Returns
    -------
    pathlib.Path
        The verified file.

    Raises
    ------
    DownloadError
        If no mirror gave the file with the right checksum; the message lists each mirror's
        failure.
    """
    folder = Path(folder)
    dest = folder / remote.name
    if dest.is_file():
        if sha256_file(dest) == remote.sha256:
            return dest
        dest.unlink()  # damaged or stale: fetch it again
    folder.mkdir(parents=True, exist_ok=True)
    opener = opener or default_opener
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + remote.name
        try:
            _fetch_to(url, remote, dest, opener, timeout, progress)
            return dest
        except (_Rejected, OSError, http.client.HTTPException, ValueError) as error:
            failures.append(f"{url}: {error}")
    if not failures:
        failures.append("no mirror is configured")
    raise DownloadError(f"could not fetch {remote.name}: " + "; ".join(failures))


def download_dataset(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    files: Sequence[RemoteFile] | None = None,
    opener: Opener | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> Path:
    """Fetch the four files of dataset ``name`` into ``<cache>/<name>/`` and verify them.

    Parameters
    ----------
    name : str
        A dataset with published files: ``"mnist"`` or ``"fashion-mnist"``.
    cache_dir : str or os.PathLike, optional
        The cache root (default: ``$DIGITLAB_CACHE`` or the user cache folder).
    mirrors, files : optional
        Override the built-in mirror list and file list (name, SHA-256, size); for tests.
    opener, timeout, progress
        As for :func:`fetch_file`.

    Returns
    -------
    pathlib.Path
        The folder holding the verified files.

    Raises
    ------
    DownloadError
        If a file could not be fetched from any mirror; the message says which files to place
        in which folder to work offline.
    """
    spec = SPECS.get(name)
    if spec is None:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(SPECS)}")
    files = tuple(spec.files if files is None else files)
    mirrors = tuple(spec.mirrors if mirrors is None else mirrors)
    if not files:
        raise DataError(f"{name} ships with digitlab; there is nothing to download")
    folder = dataset_cache_dir(name, cache_dir)
    # one download per folder at a time; .part files of an earlier, killed one are removed
    with claim_folder(folder, "download folder"):
        for position, remote in enumerate(files):
            try:
                fetch_file(remote, folder, mirrors, opener=opener, timeout=timeout,
                           progress=progress)
            except DownloadError as error:
                missing = ", ".join(f.name for f in files[position:])
                raise DownloadError(
                    f"{error}. To work offline, place these files in {folder}: {missing} "
                    f"(or pass --data DIR with a folder of IDX files)"
                ) from None
    return folder
