"""Mixed-type tables (kind ``"table"``): numeric and categorical columns, as two named fields.

Every split of a table holds

- ``numeric`` (N, Dn) float32: the numeric columns, in the file's order;
- ``categorical`` (N, Dc) int64: the categorical columns as category codes 0..K−1, a code being the index of the
  cell's value in its column's sorted ``categories``;
- ``meta["columns"]``: the column spec, a JSON list in the file's column order, one
  ``{"name", "type": "numeric" | "categorical", "categories": [...]}`` per column (``[]`` for a numeric column).

A column's categories are those of all rows, every split's, so a code means the same category in every split.
The rows are cut into train / val / test by shares (``splits.fraction_split``: options ``seed``, ``val_fraction``,
``test_fraction``, as ``csv``'s).

- ``cars``: vega-datasets' ``cars.json`` (406 cars, the UCI Auto MPG data), read as a file from the installed
  package (no download; the package is not imported). ``Name`` is an identifier and is dropped; ``Year`` (a date
  string, ``"1970-01-01"``) becomes the model year as a number; ``Cylinders`` (3, 4, 5, 6 or 8) and ``Origin``
  are categorical, the other six (``Year`` included) numeric. The 14 rows with a missing value (8
  ``Miles_per_Gallon``, 6 ``Horsepower``) are dropped: 392 rows.
- ``table``: a user's CSV file (``--data table --set data.path=FILE``): a header row, then one row per example; a
  column whose every cell reads as a number is numeric, any other categorical (its cells, stripped of spaces, are
  its categories). An empty cell, or a number column holding ``nan`` or ``inf``, is a one-line ``ConfigError``
  naming the file, the line and the column, as are the problems ``csvfile.read_rows`` finds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from genlab.data.csvfile import is_number, read_rows
from genlab.data.packaged import package_path
from genlab.data.splits import fraction_split
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError

NUMERIC, CATEGORICAL = "numeric", "categorical"

#: the columns of ``cars`` kept, in the file's order, with their types (``Name`` dropped)
CARS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Miles_per_Gallon", NUMERIC), ("Cylinders", CATEGORICAL), ("Displacement", NUMERIC), ("Horsepower", NUMERIC),
    ("Weight_in_lbs", NUMERIC), ("Acceleration", NUMERIC), ("Year", NUMERIC), ("Origin", CATEGORICAL))


# --- a table from rows of cells ------------------------------------------------------------------------
def encode(header: Sequence[str], rows: Sequence[Sequence[Any]], types: Sequence[str]
           ) -> tuple[list[dict[str, Any]], torch.Tensor, torch.Tensor]:
    """The column spec, ``numeric`` (N, Dn) float32 and ``categorical`` (N, Dc) int64 of ``rows`` (cells: numbers or
    text) whose columns, named by ``header``, have ``types`` (``"numeric"`` or ``"categorical"``)."""
    numeric_at = [j for j, t in enumerate(types) if t == NUMERIC]
    categorical_at = [j for j, t in enumerate(types) if t == CATEGORICAL]
    categories = {j: sorted({str(row[j]).strip() for row in rows}) for j in categorical_at}
    columns = [{"name": name, "type": t, "categories": categories.get(j, [])}
               for j, (name, t) in enumerate(zip(header, types, strict=True))]
    code = {j: {c: k for k, c in enumerate(cats)} for j, cats in categories.items()}
    numeric = torch.tensor([[float(row[j]) for j in numeric_at] for row in rows],
                           dtype=torch.float64).reshape(len(rows), len(numeric_at))  # (N, Dn)
    categorical = torch.tensor([[code[j][str(row[j]).strip()] for j in categorical_at] for row in rows],
                               dtype=torch.int64).reshape(len(rows), len(categorical_at))  # (N, Dc)
    return columns, numeric.float(), categorical


def table_split(columns: list[dict[str, Any]], numeric: torch.Tensor, categorical: torch.Tensor, split: str, *,
                name: str, seed: int, val_fraction: float, test_fraction: float, what: str,
                target: str = "") -> TensorData:
    """``split`` of a whole table (``encode``'s output) as a ``TensorData`` of kind ``"table"``; ``target`` (in
    ``meta``, when given) names the column a synthetic table's utility is measured on (train on synthetic, test on
    real: ``genlab.metrics.tabular.utility``)."""
    if target and target not in [c["name"] for c in columns]:
        raise ConfigError(f"{what} has no column {target!r} to predict: its columns are "
                          f"{', '.join(c['name'] for c in columns)}")
    rows = fraction_split(len(numeric), split, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction,
                          what=what)
    return TensorData({NUMERIC: numeric[rows], CATEGORICAL: categorical[rows]}, name=name, split=split, kind="table",
                      meta={"columns": columns, **({"target": target} if target else {})})


# --- table: a user's CSV file ----------------------------------------------------------------------------
def column_types(path: str | Path, header: list[str], body: list[tuple[int, list[str]]]) -> list[str]:
    """Each column's type: numeric when every cell reads as a finite number, else categorical; ``ConfigError``
    naming the file, line and column of an empty cell or of a non-finite number in a number column."""
    types = []
    for j, name in enumerate(header):
        for line, row in body:
            if not row[j].strip():
                raise ConfigError(f"{path} line {line}, column {name!r} is empty: fill it in or drop the row")
        if not all(is_number(row[j]) for _, row in body):
            types.append(CATEGORICAL)
            continue
        for line, row in body:
            if not math.isfinite(float(row[j])):
                raise ConfigError(f"{path} line {line}, column {name!r}: {row[j]!r} is not a finite number: fill "
                                  f"in the value or drop the row")
        types.append(NUMERIC)
    return types


def load_table(split: str = "train", *, path: str, seed: int = 0, val_fraction: float = 0.1,
               test_fraction: float = 0.1) -> TensorData:
    """``split`` of the mixed-type CSV file at ``path``: its number columns in ``numeric``, its other columns as
    category codes in ``categorical``, the column spec in ``meta["columns"]``."""
    header, body = read_rows(path)
    columns, numeric, categorical = encode(header, [row for _, row in body], column_types(path, header, body))
    return table_split(columns, numeric, categorical, split, name="table", seed=seed, val_fraction=val_fraction,
                       test_fraction=test_fraction, what=str(path))


# --- cars: vega-datasets' cars.json ----------------------------------------------------------------------
def cars_file() -> Path:
    """The path of ``cars.json`` in the installed ``vega_datasets`` package (not imported: it imports pandas)."""
    return package_path("vega_datasets", "_data", "cars.json", dataset="cars", pip="vega-datasets")


def cars_rows() -> list[list[Any]]:
    """The rows of ``cars.json`` without a missing value, as cells of ``CARS_COLUMNS`` (``Year`` as the year)."""
    records = json.loads(cars_file().read_text(encoding="utf-8"))
    rows = [[int(r[name][:4]) if name == "Year" else r[name] for name, _ in CARS_COLUMNS] for r in records]
    return [row for row in rows if all(cell is not None for cell in row)]


def load_cars(split: str = "train", *, seed: int = 0, val_fraction: float = 0.1,
              test_fraction: float = 0.1) -> TensorData:
    """``split`` of ``cars`` (392 rows): 6 numeric columns and 2 categorical (``Cylinders``, ``Origin``)."""
    names, types = zip(*CARS_COLUMNS, strict=True)
    columns, numeric, categorical = encode(names, cars_rows(), types)
    return table_split(columns, numeric, categorical, split, name="cars", seed=seed, val_fraction=val_fraction,
                       test_fraction=test_fraction, what="cars", target="Origin")
