"""IDX parsing, checked against files written byte by byte here (independently of the parser)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from genlab.data.idx import parse_idx, read_idx
from genlab.errors import LoadError


def idx_bytes(a: np.ndarray, code: int = 0x08) -> bytes:
    """The IDX encoding of ``a``: 0, 0, type code, ndim, big-endian sizes, big-endian data."""
    big = a.astype(a.dtype.newbyteorder(">"))
    return bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + big.tobytes()


def test_uint8_images_round_trip_through_gz_file(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    path = tmp_path / "imgs.gz"
    path.write_bytes(gzip.compress(idx_bytes(a)))
    np.testing.assert_array_equal(read_idx(path), a)


def test_uncompressed_int32_big_endian_is_decoded_to_native(tmp_path):
    a = np.array([[1, -2, 70000], [3, 4, -5]], dtype=np.int32)
    path = tmp_path / "ints"
    path.write_bytes(idx_bytes(a, 0x0C))
    out = read_idx(path)
    np.testing.assert_array_equal(out, a)
    assert out.dtype.isnative


def test_bad_magic_number_raises_load_error():
    with pytest.raises(LoadError, match="magic"):
        parse_idx(b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00")


def test_truncated_data_raises_load_error_naming_sizes():
    a = np.zeros((4, 3), dtype=np.uint8)
    with pytest.raises(LoadError, match=r"shape \(4, 3\)"):
        parse_idx(idx_bytes(a)[:-1])


def test_unknown_type_code_raises_load_error():
    with pytest.raises(LoadError, match="type code"):
        parse_idx(bytes([0, 0, 0x07, 1]) + struct.pack(">I", 0))


def test_corrupt_gzip_raises_load_error(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(b"hello")[:-6])
    with pytest.raises(LoadError, match="delete it"):
        read_idx(path)
