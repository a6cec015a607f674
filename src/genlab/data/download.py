"""Download a file from a list of mirrors, verify its SHA-256 and write it atomically."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from genlab.data.cache import atomic_file
from genlab.errors import LoadError

log = logging.getLogger(__name__)


class ChecksumError(LoadError):
    """A downloaded or cached file does not have the expected SHA-256."""


def sha256_of(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(filename: str, mirrors: Sequence[str], sha256: str, folder: str | os.PathLike,
          *, timeout: float = 60.0) -> Path:
    """Download ``filename`` into ``folder`` from the first mirror that serves it with the right SHA-256.

    Each mirror is a URL prefix (``https://.../``, ``file:///...``). The bytes go to a temp file that
    is renamed into place only when the checksum matches; a mismatch deletes the temp file and the
    next mirror is tried. Raises ``LoadError`` (``ChecksumError`` if a mirror served wrong bytes) when
    no mirror worked.
    """
    dest = Path(folder) / filename
    failures = []
    bad_checksum = False
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        log.info("downloading %s", url)
        try:
            with atomic_file(dest) as f, urllib.request.urlopen(url, timeout=timeout) as response:
                h = hashlib.sha256()
                for chunk in iter(lambda: response.read(1 << 20), b""):  # noqa: B023
                    h.update(chunk)
                    f.write(chunk)
                got = h.hexdigest()
                if got != sha256:
                    raise ChecksumError(f"{url}: SHA-256 {got} != expected {sha256}; the partial file "
                                        f"was deleted")
            return dest
        except ChecksumError as e:
            bad_checksum = True
            failures.append(str(e))
        except (urllib.error.URLError, OSError, ValueError) as e:
            failures.append(f"{url}: {getattr(e, 'reason', e)}")
        log.warning("download failed: %s", failures[-1])
    cls = ChecksumError if bad_checksum else LoadError
    raise cls(f"could not download {filename} (nothing was written to {folder}): " + "; ".join(failures)
              + f". Check the network, or place the original file {filename} in {folder} yourself")


def verified(path: Path, sha256: str) -> Path:
    """Return ``path`` if its SHA-256 is ``sha256``; else raise ``ChecksumError`` saying to delete it."""
    got = sha256_of(path)
    if got != sha256:
        raise ChecksumError(f"{path} has SHA-256 {got}, expected {sha256}: the file is corrupt or not "
                            f"the original; delete it and load again to download it afresh")
    return path
