"""Read and write IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a short big-endian header followed by the array's values in C order::

    byte 0-1   0x00 0x00
    byte 2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte 3     number of dimensions d (1..255)
    4 * d      the size of each dimension, unsigned 32-bit big-endian
    rest       prod(sizes) values of the type, big-endian

Files may be stored raw or gzip-compressed. Compression is recognised by the file's content (the
gzip magic bytes ``1f 8b``), never by its name, so a misnamed file still loads; when a misnamed
file is also damaged the error says so, since the name is then a likely clue.

The whole header is checked before any array is allocated, and the size it claims is compared
with the size of the file (or, for gzip, with what the stream actually decompresses to, read with
a limit of one byte more than claimed). A header that claims 2**32 images in a 1 kB file is
therefore rejected at once instead of exhausting memory. Every failure raises
:class:`~digitlab.errors.DataError` naming the file, what was expected and what was found.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from digitlab.errors import DataError, Message, message_of
from digitlab.fileio import write_bytes

#: IDX type code -> big-endian numpy dtype, as the format defines them.
TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIMS = 255
_MAX_DIM_SIZE = 2**32 - 1
# DEFLATE cannot expand data by more than about 1032:1, so a gzip file of n bytes can never
# decompress to more than this many bytes per compressed byte (plus a small constant).
_MAX_DEFLATE_RATIO = 1032
_COUNT_TRAILING = 1 << 20  # trailing bytes inside a gzip stream are counted up to this many


def _type_code_of(dtype: np.dtype) -> int:
    for code, idx_dtype in TYPE_CODES.items():
        if dtype.kind == idx_dtype.kind and dtype.itemsize == idx_dtype.itemsize:
            return code
    supported = ", ".join(str(d.newbyteorder("=")) for d in TYPE_CODES.values())
    raise DataError(f"cannot write dtype {dtype} as IDX; supported dtypes: {supported}")


def _describe_code(code: int) -> str:
    known = ", ".join(f"0x{c:02X}" for c in TYPE_CODES)
    return f"unknown IDX type code 0x{code:02X} (expected one of {known})"


class _GzipReader:
    """Decompress a gzip byte string on demand, never producing more than asked for.

    Handles multi-member streams; raises :class:`DataError` on corrupt or truncated data.
    """

    def __init__(self, compressed: bytes, where: str) -> None:
        self._where = where
        self._pending = compressed
        self._inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
        self.finished = False

    def _fail(self, problem: str) -> DataError:
        return DataError(Message("{path}: {problem}", path=self._where, problem=problem))

    def read(self, size: int) -> bytes:
        """Return up to ``size`` decompressed bytes (fewer only at the end of the stream)."""
        chunks: list[bytes] = []
        wanted = size
        while wanted > 0 and not self.finished:
            try:
                chunk = self._inflater.decompress(self._pending, wanted)
            except zlib.error as error:
                raise self._fail(Message("corrupt gzip data ({error})", error=error)) from None
            self._pending = self._inflater.unconsumed_tail
            chunks.append(chunk)
            wanted -= len(chunk)
            if self._inflater.eof:
                rest = self._inflater.unused_data
                if rest.startswith(GZIP_MAGIC):  # another gzip member follows
                    self._pending = rest
                    self._inflater = zlib.decompressobj(wbits=31)
                elif rest.strip(b"\x00"):
                    raise self._fail(Message.counted(
                        "{n} byte of garbage after the gzip stream",
                        "{n} bytes of garbage after the gzip stream", len(rest), n=len(rest)))
                else:
                    self.finished = True
            elif not chunk and not self._pending:
                raise self._fail(Message("gzip stream is truncated (it ends before its end "
                                         "marker)"))
        return b"".join(chunks)

    def at_end(self) -> bool:
        """Whether the stream holds no more data (consumes the trailer if needed)."""
        return self.finished or self.read(1) == b""


def _parse_header(head: bytes, where: str) -> tuple[np.dtype, int]:
    """Parse the fixed first 4 bytes of an IDX header: returns the dtype and the number of dims."""
    if len(head) < 4:
        raise DataError(
            f"{where}: too short for an IDX header: expected at least 4 bytes, found {len(head)}"
        )
    zero1, zero2, code, ndim = head[:4]
    if zero1 != 0 or zero2 != 0:
        found = f"{zero1:02x} {zero2:02x}"
        raise DataError(Message("{path}: not an IDX file: the first two bytes must be 00 00, "
                                "found {found}", path=where, found=found))
    if code not in TYPE_CODES:
        raise DataError(f"{where}: {_describe_code(code)}")
    if ndim < 1:
        raise DataError(f"{where}: the IDX header declares 0 dimensions (expected 1 to 255)")
    return TYPE_CODES[code], ndim


def _parse_dims(raw: bytes, ndim: int, where: str) -> tuple[int, ...]:
    if len(raw) < 4 * ndim:
        raise DataError(
            f"{where}: IDX header truncated: expected {ndim} dimension sizes "
            f"({4 * ndim} bytes after the first 4), found {len(raw)} bytes"
        )
    return struct.unpack(f">{ndim}I", raw[: 4 * ndim])


def _size_problem(where: str, dims: tuple[int, ...], dtype: np.dtype, claimed: int,
                  found: int, note: str) -> DataError:
    shape = "x".join(str(d) for d in dims)
    what = Message("the header claims {shape} values of {dtype} = {claimed:,} bytes",
                   shape=shape, dtype=dtype.newbyteorder("="), claimed=claimed)
    if found < claimed:
        return DataError(Message.counted(
            "{path}: truncated: {what}, found {found:,} byte of data{note}",
            "{path}: truncated: {what}, found {found:,} bytes of data{note}", found,
            path=where, what=what, found=found, note=note))
    extra = found - claimed
    return DataError(Message.counted(
        "{path}: {what}, found {extra:,} unexpected trailing byte{note}",
        "{path}: {what}, found {extra:,} unexpected trailing bytes{note}", extra,
        path=where, what=what, extra=extra, note=note))


def read_idx(path: str | os.PathLike, *, writable: bool = True) -> np.ndarray:
    """Read an IDX file (raw or gzip, recognised by content) into a native-byte-order array.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    writable : bool
        If False, a gzipped uint8/int8 file may come back as a read-only view of the
        decompressed bytes, saving one copy (used when the caller converts the array anyway).

    Returns
    -------
    numpy.ndarray
        An array of the file's dtype (uint8, int8, int16, int32, float32 or float64, in
        native byte order) and of the shape the header gives, e.g. ``(60000, 28, 28)`` for
        MNIST's training images and ``(60000,)`` for its labels.

    Raises
    ------
    DataError
        If the file is missing, is not a valid IDX file, is truncated or has trailing bytes.
    """
    path = Path(path)
    where = str(path)
    named_gz = path.name.lower().endswith(".gz")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(2)
            handle.seek(0)
            if magic != GZIP_MAGIC:
                note = Message(" (note: the file is named .gz but is not gzip)") \
                    if named_gz else ""
                return _read_raw(handle, os.fstat(handle.fileno()).st_size, where, note)
            compressed = handle.read()
    except FileNotFoundError:
        raise DataError(Message("{path}: file not found", path=where)) from None
    except IsADirectoryError:
        raise DataError(Message("{path}: is a folder, expected an IDX file", path=where)) \
            from None
    except OSError as error:
        raise DataError(Message("{path}: cannot read: {error}", path=where,
                                error=error.strerror or error)) from None
    note = "" if named_gz else Message(" (note: the file is gzip-compressed although its name "
                                       "has no .gz)")
    try:
        array = _read_gzip(compressed, where)
    except DataError as error:
        raise DataError(Message("{problem}{note}", problem=message_of(error), note=note)) \
            from None
    return _native(array, writable)


def _read_raw(handle, file_size: int, where: str, note: str) -> np.ndarray:
    try:
        dtype, ndim = _parse_header(handle.read(4), where)
        dims = _parse_dims(handle.read(4 * ndim), ndim, where)
    except DataError as error:
        raise DataError(Message("{problem}{note}", problem=message_of(error), note=note)) \
            from None
    claimed = math.prod(dims) * dtype.itemsize
    found = file_size - 4 - 4 * ndim
    if found != claimed:  # checked before allocating anything of the claimed size
        raise _size_problem(where, dims, dtype, claimed, found, note)
    array = np.empty(dims, dtype=dtype)
    if claimed == 0:  # a dimension of 0: nothing to read (and memoryview cannot cast it)
        return _native(array)
    if handle.readinto(memoryview(array).cast("B")) != claimed:
        raise DataError(f"{where}: the file changed size while being read")
    return _native(array)


def _read_gzip(compressed: bytes, where: str) -> np.ndarray:
    stream = _GzipReader(compressed, where)
    dtype, ndim = _parse_header(stream.read(4), where)
    dims = _parse_dims(stream.read(4 * ndim), ndim, where)
    claimed = math.prod(dims) * dtype.itemsize
    most_possible = len(compressed) * _MAX_DEFLATE_RATIO + 1024
    if claimed > most_possible:
        shape = "x".join(str(d) for d in dims)
        raise DataError(
            f"{where}: truncated: the header claims {shape} values = {claimed:,} bytes, more "
            f"than a {len(compressed):,}-byte gzip file can hold (at most ~{most_possible:,})"
        )
    payload = stream.read(claimed + 1)  # one byte more than claimed reveals trailing data
    found = len(payload)
    if found == claimed and not stream.at_end():
        found += 1
    if found > claimed:  # count the trailing bytes (up to a limit) to report them exactly
        found += len(stream.read(_COUNT_TRAILING))
        note = "" if stream.at_end() else Message(" (at least; counting stopped after {most:,})",
                                                  most=_COUNT_TRAILING)
        raise _size_problem(where, dims, dtype, claimed, found, note)
    if found != claimed:
        raise _size_problem(where, dims, dtype, claimed, found, "")
    return np.frombuffer(payload, dtype=dtype).reshape(dims)


def _native(array: np.ndarray, writable: bool = True) -> np.ndarray:
    """Return the array in native byte order, copying only if needed (or to make it writable)."""
    native = array.dtype.newbyteorder("=")
    if array.dtype != native or (writable and not array.flags.writeable):
        return array.astype(native)
    return array


def encode_idx(array: np.ndarray) -> bytes:
    """Return the IDX bytes (header and big-endian data) of ``array``, uncompressed."""
    array = np.asarray(array)
    code = _type_code_of(array.dtype)
    if not 1 <= array.ndim <= _MAX_DIMS:
        raise DataError(f"an IDX array needs 1 to {_MAX_DIMS} dimensions, got {array.ndim}")
    if any(size > _MAX_DIM_SIZE for size in array.shape):
        raise DataError(f"IDX dimension sizes must be below 2**32, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = np.ascontiguousarray(array, dtype=TYPE_CODES[code]).tobytes()
    return header + data


def gzip_deterministic(data: bytes, level: int = 9) -> bytes:
    """Gzip ``data`` with a fixed header (no file name, mtime 0, OS 'unknown').

    The same input always gives the same bytes (for a given zlib), so regenerated files can be
    compared by checksum.
    """
    deflater = zlib.compressobj(level, zlib.DEFLATED, -15)  # -15: raw DEFLATE, we add the header
    body = deflater.compress(data) + deflater.flush()
    extra_flags = 2 if level == 9 else (4 if level == 1 else 0)
    header = GZIP_MAGIC + bytes([8, 0, 0, 0, 0, 0, extra_flags, 255])
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return header + body + trailer


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.
    array : numpy.ndarray
        Array of any shape with 1 to 255 dimensions and a dtype the format supports (uint8,
        int8, int16, int32, float32, float64, in any byte order).
    compress : bool or None
        ``None`` (default) gzips when the name ends in ``.gz``; ``True``/``False`` force it.
        Compression is deterministic: the same array always gives the same file.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    data = encode_idx(array)
    if compress is None:
        compress = path.name.lower().endswith(".gz")
    if compress:
        data = gzip_deterministic(data)
    return write_bytes(path, data)
