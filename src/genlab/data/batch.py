"""``Batch``: one mini-batch as named tensor fields, and the field checks and row selection shared by
``TensorData`` and ``TensorLoader``.

Field names are the models' ``forward`` keyword arguments (``x``, ``y``, ``tokens``, ``src`` /
``src_lengths``, ...): the training system calls ``model(**batch)``. A *padded* field holds
variable-length rows ``(N, T, ...)`` (batch-first, padded at the end along dim 1); the int64 field
that ``lengths`` names for it holds each row's length ``(N,)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from genlab.errors import ConfigError, ShapeError


class Batch(dict[str, Tensor]):
    """A ``dict`` of field name → tensor, all with the same first dimension (the batch's rows).

    A plain ``dict`` subclass, so Lightning moves it between devices field by field and
    ``model(**batch)`` passes each field as a keyword argument.
    """

    @property
    def size(self) -> int:
        """Rows in the batch: the first dimension of its fields."""
        for t in self.values():
            return t.shape[0]
        raise ConfigError("an empty Batch has no size: give it at least one field")


def check_fields(fields: Mapping[str, Tensor], lengths: Mapping[str, str], what: str) -> int:
    """Check that ``fields`` are tensors with one common first dimension and that ``lengths`` maps
    each padded field ``(N, T, ...)`` to an int64 ``(N,)`` field with values in ``[0, T]``; returns ``N``."""
    if not fields:
        raise ConfigError(f"{what} needs at least one field, e.g. {{'x': x, 'y': y}}")
    wrong = {k: type(t).__name__ for k, t in fields.items() if not isinstance(t, Tensor) or t.dim() == 0}
    if wrong:
        raise ShapeError(f"{what}: every field must be a tensor with a first (row) dimension, got {wrong}")
    n = next(iter(fields.values())).shape[0]
    if any(t.shape[0] != n for t in fields.values()):
        shapes = {k: tuple(t.shape) for k, t in fields.items()}
        raise ShapeError(f"{what}: all fields must have the same first dimension, got {shapes}: "
                         f"pass one row per example in each")
    for padded, counts in lengths.items():
        if padded not in fields or counts not in fields:
            raise ConfigError(f"{what}: lengths maps {padded!r} → {counts!r} but the fields are {list(fields)}: "
                              f"name a padded field and the field holding its row lengths")
        t, c = fields[padded], fields[counts]
        if t.dim() < 2 or c.dtype != torch.int64 or c.dim() != 1:
            raise ShapeError(f"{what}: padded field {padded!r} must be (N, T, ...) and its lengths {counts!r} "
                             f"int64 (N,), got {tuple(t.shape)} and {c.dtype} {tuple(c.shape)}")
        if n and not 0 <= int(c.min()) <= int(c.max()) <= t.shape[1]:
            raise ShapeError(f"{what}: lengths {counts!r} must lie in [0, {t.shape[1]}] (the width of "
                             f"{padded!r}), got [{int(c.min())}, {int(c.max())}]")
    return n


def width(lengths: Tensor) -> int:
    """The padded width rows of these ``lengths`` need: their maximum (0 for no rows)."""
    return int(lengths.max()) if len(lengths) else 0


def select_rows(fields: Mapping[str, Tensor], lengths: Mapping[str, str], rows: Tensor) -> dict[str, Tensor]:
    """Rows ``rows`` (int64 ``(B,)``) of every field, as contiguous copies; each padded field is cut to
    the longest of the selected rows (``(B, T_max, ...)``) before it is copied."""
    out = {}
    for name, t in fields.items():
        counts = lengths.get(name)
        if counts is not None:
            t = t[:, : width(fields[counts].index_select(0, rows))]  # (N, T_max, ...) view
        out[name] = t.index_select(0, rows)
    return out
