"""genlab.data: datasets as named in-memory tensor fields, and a fast resumable loader for them.

``load(name, split, **options) -> TensorData``; ``datasets()`` lists ``DatasetInfo`` rows;
``TensorLoader`` slices shuffled (or streamed), DDP-sharded, resumable ``Batch``es (dicts of named fields), in the
order a ``LoaderPolicy`` (``genlab.policy``, re-exported) declares; ``Vocabulary`` (``genlab.vocab``, re-exported)
maps symbols to ids. Importing this package does not import torch: ``Batch``, ``TensorData``, ``TensorLoader`` and
``Vocabulary`` are imported on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from genlab.data.registry import DatasetInfo, datasets, info, load
from genlab.policy import LoaderPolicy

if TYPE_CHECKING:
    from genlab.data.batch import Batch
    from genlab.data.loader import TensorLoader
    from genlab.data.tensors import TensorData
    from genlab.vocab import Vocabulary

__all__ = ["Batch", "DatasetInfo", "LoaderPolicy", "TensorData", "TensorLoader", "Vocabulary", "datasets", "info",
           "load"]

_LAZY = {"Batch": "genlab.data.batch", "TensorData": "genlab.data.tensors", "TensorLoader": "genlab.data.loader",
         "Vocabulary": "genlab.vocab"}  # (below models/: a model may import it)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genlab.data' has no attribute {name!r}")
