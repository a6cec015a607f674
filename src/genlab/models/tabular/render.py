"""``TableCSV``: a table's samples (named fields ``numeric``, ``categorical``) → a ``.csv`` file in data units."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping
from pathlib import Path

from torch import Tensor

from genlab.columns import NUMERIC, Column
from genlab.errors import ConfigError, ShapeError
from genlab.render import Renderer


@dataclasses.dataclass(frozen=True)
class TableCSV(Renderer):
    """A header of the ``columns``' names in the file's order, then one row per sample: numbers as their column's
    dtype writes them (``Column.cells``: floats with 6 significant digits, never in exponent notation; whole numbers;
    dates); category codes written as the category names.
    Written atomically; a code outside a column's categories is refused, never written."""

    columns: tuple[Column, ...] = ()
    suffixes: tuple[str, ...] = (".csv",)
    what: str = "a table of samples"

    def write(self, samples, path, *, reference=None, title=None, labels=None) -> Path:
        from genlab.atomic import atomic_write_text

        if not isinstance(samples, Mapping) or not {"numeric", "categorical"} <= set(samples):
            raise ConfigError(f"a table is written from the named fields numeric and categorical, got "
                              f"{list(samples) if isinstance(samples, Mapping) else type(samples).__name__}")
        numeric = samples["numeric"].detach().cpu().double()  # (N, Dn) data units
        categorical = samples["categorical"].detach().cpu()  # (N, Dc) codes
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.name for c in self.columns])
        writer.writerows(self.rows(numeric, categorical))
        return atomic_write_text(self.path(path), out.getvalue())

    def rows(self, numeric: Tensor, categorical: Tensor) -> list[list[str]]:
        """The cells of each row, in the columns' order."""
        dn = sum(c.type == NUMERIC for c in self.columns)
        dc = len(self.columns) - dn
        if numeric.dim() != 2 or categorical.dim() != 2 or (numeric.shape[1], categorical.shape[1]) != (dn, dc) \
                or len(numeric) != len(categorical):
            raise ShapeError(f"a table of {dn} numeric and {dc} categorical columns needs numeric (N, {dn}) and "
                             f"categorical (N, {dc}), got {tuple(numeric.shape)} and {tuple(categorical.shape)}")
        if categorical.is_floating_point():
            raise ShapeError(f"categorical holds category codes (integers), got {categorical.dtype}: pass codes.long()")
        numbers, codes = iter(numeric.T.tolist()), iter(categorical.T.tolist())  # column by column
        cells = []  # (columns, N)
        for c in self.columns:
            if c.type == NUMERIC:
                cells.append(c.cells(next(numbers)))
                continue
            column = next(codes)
            bad = [k for k in column if not 0 <= k < len(c.categories)]
            if bad:
                raise ShapeError(f"column {c.name!r} has {len(c.categories)} categories, got code {bad[0]}: codes "
                                 f"must be 0..{len(c.categories) - 1}")
            cells.append([c.categories[k] for k in column])
        return [list(row) for row in zip(*cells, strict=True)]

