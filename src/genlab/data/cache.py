"""The cache folder and atomic file writes (temp file in the same folder + ``os.replace``)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def cache_dir() -> Path:
    """The folder where datasets are cached: ``$GENLAB_CACHE``, else ``~/.cache/genlab``."""
    return Path(os.environ.get("GENLAB_CACHE") or Path.home() / ".cache" / "genlab").expanduser()


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temp file next to ``path`` for binary writing; rename it to ``path`` on success.

    If the ``with`` block raises, the temp file is deleted and ``path`` is untouched, so readers
    (other processes included) see either the old file or the complete new one, never half of it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a cache file is readable like any other
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
