"""Read IDX files (the format of the original MNIST distribution), optionally gzip-compressed.

Layout: two zero bytes, a type code, the number of dimensions ``d``, then ``d`` big-endian uint32
sizes, then the data in C order, big-endian. http://yann.lecun.com/exdb/mnist/ ("FILE FORMATS").
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from genlab.errors import LoadError

# type code -> numpy dtype (big-endian as stored)
IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Decode an IDX file (``.gz`` or raw) into a native-endian array; ``LoadError`` if malformed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise LoadError(f"cannot read IDX file {path} ({e}): delete it so it is downloaded again") from None
    return parse_idx(raw, str(path))


def parse_idx(raw: bytes, what: str = "IDX data") -> np.ndarray:
    """Decode the bytes of an IDX file; checks the magic number and that the size matches the header."""
    hint = "the file is corrupt or not an IDX file: delete it so it is downloaded again"
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise LoadError(f"{what}: bad magic number {raw[:4].hex() or '(empty)'} "
                        f"(IDX files start with 00 00 <type> <ndim>); {hint}")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise LoadError(f"{what}: unknown IDX type code 0x{code:02x} "
                        f"(known: {[hex(c) for c in IDX_DTYPES]}); {hint}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise LoadError(f"{what}: header says {ndim} dimensions but the file has only {len(raw)} bytes; "
                        f"{hint}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise LoadError(f"{what}: header says shape {shape} ({expected} bytes of data), "
                        f"found {len(raw) - header} bytes; {hint}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)  # native order, writable
