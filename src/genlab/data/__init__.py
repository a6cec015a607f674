"""genlab.data: datasets as in-memory tensors, and a fast resumable loader for them.

``load(name, split, **options) -> TensorData``; ``datasets()`` lists ``DatasetInfo`` rows;
``TensorLoader`` slices shuffled, DDP-sharded, resumable batches. Importing this package does not
import torch: ``TensorData`` and ``TensorLoader`` are imported on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from genlab.data.registry import DatasetInfo, datasets, info, load

if TYPE_CHECKING:
    from genlab.data.loader import TensorLoader
    from genlab.data.tensors import TensorData

__all__ = ["DatasetInfo", "TensorData", "TensorLoader", "datasets", "info", "load"]

_LAZY = {"TensorData": "genlab.data.tensors", "TensorLoader": "genlab.data.loader"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genlab.data' has no attribute {name!r}")
