"""genlab: the models of a deep-learning course, from their equations.

>>> import genlab
>>> genlab.__version__
'0.1.0'
"""

from __future__ import annotations

from genlab.version import __version__

__all__ = ["__version__", "load"]


def load(directory, *, map_location: str = "cpu"):
    """Load a model saved with ``save_pretrained`` (see ``genlab.hub.load``)."""
    from genlab.hub import load as _load

    return _load(directory, map_location=map_location)
