"""``csv``: a user's CSV file as a dataset (``--data csv --set data.path=points.csv``).

A header row, then one row per example of numeric columns: every column but ``label`` becomes a feature of
``x`` (N, D) float32; ``label`` (optional) holds integer class labels ``y``. The rows are split with a seeded
permutation into train / val / test by ``val_fraction`` and ``test_fraction``. Every problem with the file (it is
missing, a row has the wrong number of cells, a cell is not a number, the label column is not there) is a
one-line ``ConfigError`` naming the line and the column. ``read_rows`` (the file's header and cells) is what
every CSV dataset reads first: the mixed-type ``table`` (``genlab.data.table``) reads it too.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from genlab.data.splits import fraction_split
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError


def read_rows(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header of the CSV file at ``path`` and its rows as ``(line number, cells)``, blank lines skipped; every
    row has as many cells as the header. What any CSV dataset reads first (``csv``, the mixed ``table``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"CSV file {path} does not exist: pass --set data.path=FILE")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text (byte {e.start}): save it as UTF-8 CSV") from None
    header = [h.strip() for h in rows[0]] if rows else []
    body = [(line, row) for line, row in enumerate(rows[1:], start=2) if row]
    if not body:
        raise ConfigError(f"{path} needs a header row and at least one row of values")
    for line, row in body:
        if len(row) != len(header):
            raise ConfigError(f"{path} line {line} has {len(row)} cells, the header {len(header)}: fix the row")
    return header, body


def read_table(path: str | Path) -> tuple[list[str], list[list[float]]]:
    """The header and the numeric rows of the CSV file at ``path``."""
    header, body = read_rows(path)
    values = []
    for line, row in body:
        try:
            values.append([float(cell) for cell in row])
        except ValueError:
            bad = next(i for i, cell in enumerate(row) if not is_number(cell))
            raise ConfigError(f"{path} line {line}, column {header[bad]!r}: {row[bad]!r} is not a number") from None
    return header, values


def is_number(cell: str) -> bool:
    """Whether ``cell`` reads as a number (``float(cell)``)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def load_csv(split: str = "train", *, path: str, label: str = "", seed: int = 0, val_fraction: float = 0.1,
             test_fraction: float = 0.1) -> TensorData:
    """``split`` of the CSV file at ``path``: ``x`` (N, D) float32 from every column but ``label``, ``y`` (N,) int64
    from ``label`` when given."""
    header, values = read_table(path)
    if label and label not in header:
        raise ConfigError(f"{path} has no column {label!r} for the labels: its columns are {', '.join(header)}")
    table = torch.tensor(values, dtype=torch.float64)  # (N, columns)
    features = [i for i, h in enumerate(header) if h != label]
    if not features:
        raise ConfigError(f"{path} has no feature column besides the label {label!r}")
    rows = table[fraction_split(len(table), split, seed=seed, val_fraction=val_fraction,
                                test_fraction=test_fraction, what=str(path))]
    y = None
    if label:
        column = rows[:, header.index(label)]
        if not torch.equal(column, column.round()) or (column < 0).any():
            raise ConfigError(f"{path} column {label!r} must hold class labels 0, 1, 2, ...: its values are not "
                              f"whole numbers ≥ 0")
        y = column.long()
    return TensorData(x=rows[:, features].float(), y=y, name="csv", split=split, kind="vector",
                      meta={"columns": [header[i] for i in features]})
