"""Training checkpoints: atomic writes, and reads that never run code.

A checkpoint is written to a temporary file in the same folder, flushed to disk (fsync), then
renamed over the target (``os.replace`` is atomic on POSIX and Windows): a crash at any moment leaves
the previous checkpoint intact. It is read with ``torch.load(weights_only=True)``: only tensors,
containers and plain values are rebuilt (the allow-list of ``torch.serialization``, plus
``SAFE_GLOBALS``), so resuming a run folder from someone else cannot run their code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from genlab.atomic import atomic_file
from genlab.errors import LoadError

#: types a genlab checkpoint may hold beyond tensors, containers and plain values (none today)
SAFE_GLOBALS: list[Any] = []


def read_checkpoint(path: str | os.PathLike, *, map_location: Any = "cpu", training: bool = True) -> dict[str, Any]:
    """Load a training checkpoint without unpickling code (``weights_only=True`` + ``SAFE_GLOBALS``).

    Raises ``LoadError`` for a checkpoint that needs other types, or that is truncated or unreadable
    (or, with ``training``, that is not a Lightning training checkpoint).
    """
    import pickle

    path = Path(path)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise LoadError(f"{path} is missing: resume from a run folder that has one, or train anew") from None
    except pickle.UnpicklingError as e:
        code = re.search(r"GLOBAL (\S+)|(\S+) was not an allowed global", str(e))
        if code is None:  # not a pickle that names code: bytes that are no checkpoint at all
            raise LoadError(f"{path} is corrupt or not a checkpoint (it is no pickle torch can read); resume from an "
                            f"intact run or train anew") from None
        raise LoadError(f"{path} holds objects other than tensors and plain values ({code.group(1) or code.group(2)}): "
                        f"refusing to unpickle it (it could run code); train anew, or resume only checkpoints you "
                        f"wrote") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise LoadError(f"{path} is truncated or not a checkpoint ({type(e).__name__}: {str(e)[:200]}); "
                        f"resume from an intact run or train anew") from None
    except Exception as e:  # noqa: BLE001 — random bytes fail the legacy unpickler in many ways (IndexError, KeyError…)
        raise LoadError(f"{path} is corrupt or not a checkpoint ({type(e).__name__} while reading it); resume from an "
                        f"intact run or train anew") from None
    if training and (not isinstance(checkpoint, dict) or "state_dict" not in checkpoint):
        raise LoadError(f"{path} is not a Lightning training checkpoint (no state_dict)")
    return checkpoint


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` through a temporary file and an atomic rename (``genlab.atomic``)."""
    with atomic_file(path) as f:
        torch.save(obj, f)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O whose ``save_checkpoint`` is atomic (see ``atomic_torch_save``)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        atomic_torch_save(checkpoint, path)

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict[str, Any]:
        """``read_checkpoint``: never unpickles code, whatever Lightning asks for."""
        return read_checkpoint(path, map_location=map_location or "cpu", training=False)  # also ddp_spawn's weights
