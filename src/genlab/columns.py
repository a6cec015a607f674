"""A table's column spec as the data and the models read it: ``Column``s in the file's order, from the JSON that a
table dataset puts in ``meta["columns"]`` and a fitted preprocessor keeps in its spec (``genlab.data.table``).

A column is ``numeric`` (a float field of ``numeric``) or ``categorical`` (an integer code of ``categorical``); its
``dtype`` says how the file held it, so that samples are written back as the file had them:

- ``float`` (numeric, the default), ``int`` (numeric, written rounded to whole numbers);
- ``datetime`` (numeric: days since 1970-01-01, written as an ISO date, or date and time when not midnight);
- ``str`` (categorical, the default), ``bool`` (categorical over ``("False", "True")``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

from genlab.errors import ConfigError

NUMERIC, CATEGORICAL = "numeric", "categorical"
DTYPES = {NUMERIC: ("float", "int", "datetime"), CATEGORICAL: ("str", "bool")}
EPOCH = "1970-01-01"  # day 0 of a datetime column
SIGNIFICANT = 6  # significant digits of a float written


@dataclasses.dataclass(frozen=True)
class Column:
    """One column: its ``name``, its ``type``, for a categorical column its ``categories`` (code k is
    ``categories[k]``), and the ``dtype`` the file held it in (``""``: ``float`` / ``str`` by its type)."""

    name: str
    type: Literal["numeric", "categorical"]
    categories: tuple[str, ...] = ()
    dtype: str = ""

    def __post_init__(self) -> None:
        if not self.dtype:
            object.__setattr__(self, "dtype", DTYPES[self.type][0])
        if self.dtype not in DTYPES[self.type]:
            raise ConfigError(f"column {self.name!r} is {self.type}: its dtype must be one of "
                              f"{', '.join(DTYPES[self.type])}, got {self.dtype!r}")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "categories": list(self.categories), "dtype": self.dtype}

    def cells(self, values: Sequence[float]) -> list[str]:
        """A numeric column's ``values`` (data units) as the file wrote them: ``float`` with ``SIGNIFICANT``
        significant digits, positional (``3504.23``, ``0.000123457``); ``int`` rounded; ``datetime`` (days since
        ``EPOCH``) as an ISO date, with the time to the second when it is not midnight."""
        import numpy as np

        if self.dtype == "int":
            return [str(int(v)) for v in np.round(np.asarray(values, dtype=float))]
        if self.dtype == "datetime":
            seconds = np.round(np.asarray(values, dtype=float) * 86_400).astype("int64")
            stamps = np.datetime64(EPOCH, "s") + seconds.astype("timedelta64[s]")
            return [str(t)[:10] if str(t).endswith("T00:00:00") else str(t) for t in stamps]
        return [np.format_float_positional(v, precision=SIGNIFICANT, unique=False, fractional=False, trim="-")
                for v in values]


def columns_of(spec: Any, *, where: str) -> tuple[Column, ...]:
    """The ``Column``s of a JSON column spec (a list of ``{"name", "type", "categories", "dtype"}``, ``dtype``
    optional); ``ConfigError`` naming ``where`` the spec came from when it is not one."""
    if not isinstance(spec, list | tuple) or not spec:
        raise ConfigError(f"{where} has no column spec (a list of {{name, type, categories}}), got {spec!r}: load a "
                          f"table dataset (--data cars, or --data table --set data.path=FILE)")
    columns = []
    for c in spec:
        if not isinstance(c, dict) or c.get("type") not in (NUMERIC, CATEGORICAL) or not isinstance(c.get("name"), str):
            raise ConfigError(f"{where}: a column must be {{name, type: numeric or categorical, categories}}, "
                              f"got {c!r}")
        categories = tuple(str(k) for k in c.get("categories") or ())
        if c["type"] == CATEGORICAL and not categories:
            raise ConfigError(f"{where}: categorical column {c['name']!r} has no categories")
        columns.append(Column(c["name"], c["type"], categories, str(c.get("dtype") or "")))
    return tuple(columns)
