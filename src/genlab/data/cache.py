"""The cache folder (downloads are written with ``genlab.atomic.atomic_file``)."""

from __future__ import annotations

import os
from pathlib import Path

from genlab.atomic import atomic_file

__all__ = ["atomic_file", "cache_dir"]


def cache_dir() -> Path:
    """The folder where datasets are cached: ``$GENLAB_CACHE``, else ``~/.cache/genlab``."""
    return Path(os.environ.get("GENLAB_CACHE") or Path.home() / ".cache" / "genlab").expanduser()
