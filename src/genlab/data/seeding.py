"""Derive independent integer seeds from tuples of integers (dataset seed, epoch, batch, ...)."""

from __future__ import annotations

import hashlib


def mix_seed(*parts: int) -> int:
    """Map a tuple of integers to a well-mixed seed in ``[0, 2**63)`` (stable across runs and platforms).

    ``mix_seed(s, 0)`` and ``mix_seed(s, 1)`` give unrelated streams, unlike ``s + 0`` and ``s + 1``
    which collide with ``mix_seed(s + 1, 0)``.
    """
    data = b"".join(int(p).to_bytes(16, "little", signed=True) for p in parts)
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1
