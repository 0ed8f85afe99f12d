"""IDX reading and writing: round trips for every type, and every kind of damaged file."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from digitlab.data.idx import TYPE_CODES, encode_idx, read_idx, write_idx
from digitlab.errors import DataError

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
SHAPES = [(7,), (3, 5), (4, 3, 2), (2, 3, 1, 4)]


def sample_array(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:  # cover the extremes of the type, sign and high bytes included
        values = rng.integers(info.min, info.max, size=shape, endpoint=True)
        values.flat[0], values.flat[-1] = info.min, info.max
        return values.astype(dtype)
    return (rng.standard_normal(shape) * 1e3).astype(dtype)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{len(s)}d")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip(tmp_path, dtype, shape, compress):
    array = sample_array(dtype, shape)
    path = write_idx(tmp_path / ("a.idx.gz" if compress else "a.idx"), array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype).newbyteorder("=")
    assert back.dtype.isnative
    assert back.shape == shape
    assert back.flags.writeable
    np.testing.assert_array_equal(back, array)


def test_header_is_big_endian_as_the_format_says(tmp_path):
    array = np.array([[1, 256], [-2, 70000]], dtype=np.int32)
    data = encode_idx(array)
    # 00 00, type 0x0C (int32), 2 dims; sizes 2 and 2; then big-endian values.
    assert data[:4] == bytes([0, 0, 0x0C, 2])
    assert struct.unpack(">II", data[4:12]) == (2, 2)
    assert struct.unpack(">4i", data[12:]) == (1, 256, -2, 70000)


def test_reads_a_big_endian_input_array_and_non_native_dtypes(tmp_path):
    array = np.arange(6, dtype=">f8").reshape(2, 3)
    back = read_idx(write_idx(tmp_path / "x", array))
    assert back.dtype == np.float64 and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_compress_flag_overrides_the_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    gz_named_raw = write_idx(tmp_path / "plain", array, compress=True)
    raw_named_gz = write_idx(tmp_path / "fake.gz", array, compress=False)
    assert gz_named_raw.read_bytes()[:2] == b"\x1f\x8b"
    assert raw_named_gz.read_bytes()[:2] == b"\x00\x00"
    # detected by content, so both still load
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)


def test_gzip_output_is_deterministic(tmp_path):
    array = sample_array(np.uint8, (20, 28, 28))
    first = write_idx(tmp_path / "a.gz", array).read_bytes()
    time.sleep(1.1)  # a gzip header with a timestamp would now differ
    second = write_idx(tmp_path / "b.gz", array).read_bytes()
    assert first == second
    assert first[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert gzip.decompress(first) == encode_idx(array)  # standard gzip can read it


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.zeros(3, np.uint8))
    write_idx(path, np.ones(5, np.uint8))  # replaces
    assert [p.name for p in tmp_path.iterdir()] == ["a.idx"]
    np.testing.assert_array_equal(read_idx(path), np.ones(5, np.uint8))


def test_multi_member_gzip_is_read(tmp_path):
    data = encode_idx(np.arange(100, dtype=np.int16))
    path = tmp_path / "two-members.gz"
    path.write_bytes(gzip.compress(data[:37]) + gzip.compress(data[37:]))
    np.testing.assert_array_equal(read_idx(path), np.arange(100))


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.bool_, np.complex64])
def test_write_rejects_types_idx_cannot_hold(tmp_path, dtype):
    with pytest.raises(DataError, match="cannot write dtype"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=dtype))


def test_write_rejects_zero_dimensional_arrays(tmp_path):
    with pytest.raises(DataError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "x", np.array(3, dtype=np.uint8))


# --- damaged files --------------------------------------------------------------------------

GOOD = encode_idx(np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4))  # 16-byte header + 32


def expect_error(path, *fragments):
    with pytest.raises(DataError) as caught:
        read_idx(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope", "not found")


def test_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    expect_error(path, "at least 4 bytes", "found 0")


@pytest.mark.parametrize("cut, fragment", [
    (3, "at least 4 bytes"),       # inside the magic number
    (7, "header truncated"),       # inside the first dimension size
    (15, "header truncated"),      # inside the last dimension size
    (16 + 13, "truncated"),        # in the middle of the data
])
@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gzip"])
def test_cut_files(tmp_path, cut, fragment, compressed):
    data = GOOD[:cut]
    path = tmp_path / ("cut.gz" if compressed else "cut")
    path.write_bytes(gzip.compress(data, mtime=0) if compressed else data)
    expect_error(path, fragment)


def test_cut_in_the_data_says_claimed_and_found(tmp_path):
    path = tmp_path / "cut"
    path.write_bytes(GOOD[:-5])
    expect_error(path, "2x4x4", "32 bytes", "found 27 bytes")


def test_nonzero_first_bytes(tmp_path):
    path = tmp_path / "bad-magic"
    path.write_bytes(b"\x01\x00" + GOOD[2:])
    expect_error(path, "first two bytes must be 00 00", "01 00")


def test_unknown_type_code(tmp_path):
    path = tmp_path / "bad-type"
    path.write_bytes(GOOD[:2] + b"\x0a" + GOOD[3:])
    expect_error(path, "unknown IDX type code 0x0A")


def test_zero_dimensions(tmp_path):
    path = tmp_path / "no-dims"
    path.write_bytes(b"\x00\x00\x08\x00")
    expect_error(path, "0 dimensions")


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gzip"])
def test_trailing_bytes(tmp_path, compressed):
    data = GOOD + b"\x00\x07"
    path = tmp_path / ("long.gz" if compressed else "long")
    path.write_bytes(gzip.compress(data) if compressed else data)
    expect_error(path, "trailing bytes")


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gzip"])
def test_header_claiming_2_to_the_32_images_fails_fast(tmp_path, compressed, monkeypatch):
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">III", 2**32 - 1, 28, 28)
    data = header + bytes(100)
    path = tmp_path / ("huge.gz" if compressed else "huge")
    path.write_bytes(gzip.compress(data) if compressed else data)

    def no_big_allocation(shape, *args, **kwargs):  # the claim must be refused before this
        raise AssertionError(f"np.empty called with {shape}")

    monkeypatch.setattr(np, "empty", no_big_allocation)
    start = time.perf_counter()
    expect_error(path, "truncated", "4294967295x28x28")
    assert time.perf_counter() - start < 1.0


def test_gzip_misnamed_as_raw_and_damaged_says_so(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"  # no .gz, but gzip content, cut short
    path.write_bytes(gzip.compress(GOOD)[:-12])
    expect_error(path, "gzip-compressed although its name has no .gz")


def test_raw_named_gz_and_damaged_says_so(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(GOOD[:-1])
    expect_error(path, "named .gz but is not gzip", "truncated")


def test_truncated_gzip_stream(tmp_path):
    path = tmp_path / "cut-stream.gz"
    path.write_bytes(gzip.compress(GOOD)[:-9])  # header complete, stream cut before its end
    expect_error(path, "gzip stream is truncated")


def test_corrupt_gzip_stream(tmp_path):
    compressed = bytearray(gzip.compress(GOOD))
    compressed[-8] ^= 0xFF  # CRC of the data
    path = tmp_path / "bad-crc.gz"
    path.write_bytes(bytes(compressed))
    expect_error(path, "corrupt gzip data")


def test_folder_instead_of_file(tmp_path):
    expect_error(tmp_path, "folder")


def test_errors_do_not_rely_on_assert(tmp_path):
    """Under ``python -O`` (asserts stripped) a damaged file still raises DataError."""
    path = tmp_path / "cut"
    path.write_bytes(GOOD[:7])
    code = (
        "import sys\n"
        "from digitlab.data.idx import read_idx\n"
        "from digitlab.errors import DataError\n"
        "try:\n"
        f"    read_idx({str(path)!r})\n"
        "except DataError as e:\n"
        "    print('DataError:', e)\n"
        "    sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "header truncated" in result.stdout


def test_type_table_matches_the_format():
    assert {code: dtype.str for code, dtype in TYPE_CODES.items()} == {
        0x08: "|u1", 0x09: "|i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8",
    }


def test_reads_60000_images_quickly(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (60000, 28, 28), dtype=np.uint8)
    path = write_idx(tmp_path / "big", images)  # raw: the parse itself is what is timed
    start = time.perf_counter()
    back = read_idx(path)
    assert time.perf_counter() - start < 1.0
    np.testing.assert_array_equal(back, images)
