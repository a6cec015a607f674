"""``TablePreprocessor``: what every table preprocessing holds and checks — the column spec and the training counts
of each category (``spec`` / ``from_spec``, the JSON half of its fitted state), the numeric and categorical columns,
and the refusal of a split whose columns are not the ones it was fitted on. ``TableScaler`` (standardization) and
``TableModes`` (CTGAN's mode-specific normalization) add their buffers and transforms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from genlab.columns import CATEGORICAL, NUMERIC, Column, columns_of
from genlab.errors import ConfigError
from genlab.preprocessing import Preprocessor

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData


class TablePreprocessor(Preprocessor):
    """The columns (``Column``s in the file's order) and ``counts`` (per categorical column, the training rows of
    each category); subclasses register their buffers in ``__init__`` and fill them in ``fit``."""

    #: the model ``genlab train`` names in the error for a config without the fitted spec
    trained_as = "table-marginals --data cars"

    def __init__(self, columns: tuple[Column, ...], counts: list[list[int]]) -> None:
        super().__init__()
        self.columns = columns
        self.counts = counts

    @property
    def numeric(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.type == NUMERIC)

    @property
    def categorical(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.type == CATEGORICAL)

    @classmethod
    def empty_for(cls, data: TensorData, **options: Any) -> TablePreprocessor:
        """An unfitted instance for ``data``'s columns, with the category counts of its rows (``options``: what
        else the subclass's constructor takes)."""
        columns = columns_of(data.meta.get("columns"), where=f"{data.name} ({data.split}) meta['columns']")
        categorical = data.fields["categorical"]  # (N, Dc)
        counts = [torch.bincount(categorical[:, j], minlength=len(c.categories)).tolist()
                  for j, c in enumerate(c for c in columns if c.type == CATEGORICAL)]
        return cls(columns, counts, **options)

    def spec(self) -> dict[str, Any]:
        return {"columns": [c.to_json() for c in self.columns], "counts": self.counts}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TablePreprocessor:
        return cls(*cls.parse_spec(spec))

    @classmethod
    def parse_spec(cls, spec: dict[str, Any]) -> tuple[tuple[Column, ...], list[list[int]]]:
        """(columns, counts) of a ``spec()``; ``ConfigError`` saying how to rebuild it when it is not one."""
        if not spec:
            raise ConfigError(f"a table model's config has no fitted preprocessing (the columns and their training "
                              f"counts): build it with Model.for_data(train_split), or train it: genlab train "
                              f"{cls.trained_as}")
        columns = columns_of(spec.get("columns"), where="preprocessing")
        sizes = [len(c.categories) for c in columns if c.type == CATEGORICAL]
        counts = spec.get("counts")
        if not isinstance(counts, list) or [len(k) for k in counts] != sizes:
            raise ConfigError(f"preprocessing 'counts' must hold one count per category of each categorical column "
                              f"({sizes}), got {counts!r}: rebuild it with Model.for_data(train_split)")
        return columns, [[int(v) for v in k] for k in counts]

    def apply(self, data: TensorData) -> TensorData:
        """``data`` transformed; ``ConfigError`` when its columns are not the ones this was fitted on."""
        columns = columns_of(data.meta.get("columns"), where=f"{data.name} ({data.split}) meta['columns']")
        if columns != self.columns:
            mine, theirs = (", ".join(f"{c.name} ({c.type})" for c in cs) for cs in (self.columns, columns))
            what = (f"has the columns {theirs}, but the model was fitted on {mine}" if mine != theirs else
                    "holds other categories than the model was fitted on")
            raise ConfigError(f"{data.name} {what}: evaluate it on the data it was trained on")
        return super().apply(data)
