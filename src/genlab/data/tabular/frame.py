"""pandas frames ↔ a table's named fields (kind ``"table"``, ``genlab.data.table``).

``encode_frame(frame, types)`` turns a frame whose columns have the types ``numeric``, ``categorical``,
``datetime`` or ``boolean`` into the column spec (JSON, ``genlab.columns``) and the two fields
``numeric`` (N, Dn) float32 and ``categorical`` (N, Dc) int64; ``to_frame`` is its inverse — a model's samples
as a frame with the file's columns and dtypes (what the fidelity, utility and privacy metrics read, and what a
synthetic CSV holds):

- ``numeric``: float, or ``int`` when every value is a whole number (written rounded);
- ``datetime``: numeric in days since 1970-01-01 (``genlab.columns.EPOCH``), back to ``datetime64``;
- ``boolean``: categorical over ``("False", "True")``, back to ``bool``;
- ``categorical``: category names (text), sorted, code k = the k-th.

Missing cells are not encoded: ``encode_frame`` names the first column that has one (drop or fill them first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from genlab.columns import EPOCH
from genlab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

NUMERIC, CATEGORICAL, DATETIME, BOOLEAN = "numeric", "categorical", "datetime", "boolean"
TYPES = (NUMERIC, CATEGORICAL, DATETIME, BOOLEAN)


def encode_frame(frame: pd.DataFrame, types: Mapping[str, str]
                 ) -> tuple[list[dict[str, Any]], torch.Tensor, torch.Tensor]:
    """The column spec, ``numeric`` (N, Dn) float32 and ``categorical`` (N, Dc) int64 of ``frame``, whose column
    ``c`` has type ``types[c]`` (one of ``TYPES``); ``ConfigError`` for a missing cell, an unknown type or a
    column that does not read as its type."""
    import numpy as np
    import pandas as pd

    columns, numbers, codes = [], [], []
    for name in frame.columns:
        kind = types.get(name)
        if kind not in TYPES:
            raise ConfigError(f"column {name!r} needs a type among {', '.join(TYPES)}, got {kind!r}")
        cells = frame[name]
        missing = int(cells.isna().sum())
        if missing:
            raise ConfigError(f"column {name!r} has {missing} missing value(s): drop those rows or fill them in "
                              f"before encoding")
        if kind == NUMERIC:
            values = _numbers(cells, name)
            whole = bool(np.all(values == np.round(values)))
            columns.append({"name": name, "type": "numeric", "categories": [], "dtype": "int" if whole else "float"})
            numbers.append(values)
        elif kind == DATETIME:
            try:
                stamps = cells if pd.api.types.is_datetime64_any_dtype(cells) else pd.to_datetime(cells, format="mixed")
            except (ValueError, TypeError) as e:
                why = str(e).splitlines()[0]
                raise ConfigError(f"column {name!r} is declared datetime but does not read as dates ({why}): "
                                  f"declare it categorical or fix the cells") from None
            days = (stamps - pd.Timestamp(EPOCH)).dt.total_seconds().to_numpy() / 86_400.0
            columns.append({"name": name, "type": "numeric", "categories": [], "dtype": "datetime"})
            numbers.append(days)
        else:
            text = cells.map(_as_text) if kind == CATEGORICAL else cells.map(lambda v, c=name: str(_as_bool(v, c)))
            categories = ["False", "True"] if kind == BOOLEAN else sorted(set(text))
            index = {c: k for k, c in enumerate(categories)}
            columns.append({"name": name, "type": "categorical", "categories": categories,
                            "dtype": "bool" if kind == BOOLEAN else "str"})
            codes.append(np.array([index[t] for t in text], dtype=np.int64))
    n = len(frame)
    numeric = torch.tensor(np.stack(numbers, 1) if numbers else np.zeros((n, 0)), dtype=torch.float64)
    categorical = torch.tensor(np.stack(codes, 1) if codes else np.zeros((n, 0), dtype=np.int64))
    return columns, numeric.float(), categorical


def to_frame(columns: Sequence[Mapping[str, Any]] | Sequence[Any], numeric: torch.Tensor,
             categorical: torch.Tensor) -> pd.DataFrame:
    """The rows of ``numeric`` (N, Dn) and ``categorical`` (N, Dc) codes as a frame in ``columns``' order (JSON
    dicts or ``Column``s), each column in its dtype: float, int (rounded), datetime64, bool, text."""
    import numpy as np
    import pandas as pd

    specs = [c if isinstance(c, Mapping) else c.to_json() for c in columns]
    numbers = iter(numeric.detach().cpu().double().numpy().T)
    codes = iter(categorical.detach().cpu().long().numpy().T)
    data = {}
    for c in specs:
        dtype = c.get("dtype") or ("float" if c["type"] == "numeric" else "str")
        if c["type"] == "numeric":
            values = next(numbers)
            if dtype == "int":
                data[c["name"]] = np.round(values).astype(np.int64)
            elif dtype == "datetime":
                data[c["name"]] = pd.Timestamp(EPOCH) + pd.to_timedelta(np.round(values * 86_400), unit="s")
            else:
                data[c["name"]] = values
            continue
        k = next(codes)
        categories = np.asarray(c["categories"], dtype=object)
        if len(k) and (k.min() < 0 or k.max() >= len(categories)):
            raise ConfigError(f"column {c['name']!r} has {len(categories)} categories, got code "
                              f"{int(k.max() if k.max() >= len(categories) else k.min())}")
        names = categories[k]
        data[c["name"]] = names == "True" if dtype == "bool" else names.astype(str)
    return pd.DataFrame(data, columns=[c["name"] for c in specs])


def _numbers(cells: pd.Series, name: str):
    import pandas as pd

    values = pd.to_numeric(cells, errors="coerce")
    bad = values.isna()
    if bad.any():
        raise ConfigError(f"column {name!r} is declared numeric but row {int(bad.to_numpy().nonzero()[0][0])} holds "
                          f"{cells[bad].iloc[0]!r}: declare it categorical or fix the cell")
    values = values.to_numpy(dtype=float)
    if not (abs(values) < float("inf")).all():
        raise ConfigError(f"column {name!r} holds an infinite value: fix or drop that row")
    return values


def _as_text(v: Any) -> str:
    """A category's name: a whole float as an integer (``3.0`` → ``"3"``), text stripped of spaces."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _as_bool(v: Any, name: str) -> bool:
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return bool(v)
    text = str(v).strip().lower()
    if text in ("true", "1", "yes", "t", "y", "1.0"):
        return True
    if text in ("false", "0", "no", "f", "n", "0.0"):
        return False
    raise ConfigError(f"column {name!r} is declared boolean but holds {v!r}: declare it categorical or fix the cell")
