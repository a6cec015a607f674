"""A table's column spec as the models read it: ``Column``s in the file's order, from the JSON that a table dataset
puts in ``meta["columns"]`` and a fitted ``TableScaler`` keeps in its spec (``genlab.data.table``)."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from genlab.errors import ConfigError

NUMERIC, CATEGORICAL = "numeric", "categorical"


@dataclasses.dataclass(frozen=True)
class Column:
    """One column: its ``name``, its ``type`` and, for a categorical column, its ``categories`` (code k is
    ``categories[k]``)."""

    name: str
    type: Literal["numeric", "categorical"]
    categories: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "categories": list(self.categories)}


def columns_of(spec: Any, *, where: str) -> tuple[Column, ...]:
    """The ``Column``s of a JSON column spec (a list of ``{"name", "type", "categories"}``); ``ConfigError`` naming
    ``where`` the spec came from when it is not one."""
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
        columns.append(Column(c["name"], c["type"], categories))
    return tuple(columns)
