"""``TableScaler``: a mixed-type table's fitted preprocessing (``genlab.preprocessing``).

Fitted on the training split: the mean and the standard deviation (population, ``1/N``) of each numeric column
(buffers ``mean``, ``std``; a constant column keeps std 1), and how often each category of each categorical
column occurs (``counts``). Its spec, in the model's config, is the column spec plus those counts; ``transform``
standardizes ``numeric`` (z = (v − mean) / std), ``inverse`` maps it back to data units. ``categorical`` (codes)
passes through unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from genlab.columns import CATEGORICAL, NUMERIC, Column, columns_of
from genlab.errors import ConfigError
from genlab.preprocessing import Preprocessor

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData

MIN_STD = 1e-8  # below this a numeric column is constant: it is centred, not scaled


class TableScaler(Preprocessor):
    """Per-column standardization of ``numeric``; the columns and the training counts of the categories."""

    def __init__(self, columns: tuple[Column, ...], counts: list[list[int]]) -> None:
        super().__init__()
        self.columns = columns
        self.counts = counts  # per categorical column: the training rows of each category
        dn = len(self.numeric)
        self.register_buffer("mean", torch.zeros(dn))  # (Dn,) data units
        self.register_buffer("std", torch.ones(dn))  # (Dn,) data units

    @property
    def numeric(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.type == NUMERIC)

    @property
    def categorical(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.type == CATEGORICAL)

    # --- fitted, saved, rebuilt --------------------------------------------------------------------
    @classmethod
    def fit(cls, data: TensorData) -> TableScaler:
        columns = columns_of(data.meta.get("columns"), where=f"{data.name} ({data.split}) meta['columns']")
        numeric = data.fields["numeric"].double()  # (N, Dn)
        categorical = data.fields["categorical"]  # (N, Dc)
        counts = [torch.bincount(categorical[:, j], minlength=len(c.categories)).tolist()
                  for j, c in enumerate(c for c in columns if c.type == CATEGORICAL)]
        scaler = cls(columns, counts)
        std = numeric.std(0, unbiased=False)
        scaler.mean.copy_(numeric.mean(0))
        scaler.std.copy_(torch.where(std > MIN_STD, std, torch.ones_like(std)))
        return scaler

    def spec(self) -> dict[str, Any]:
        return {"columns": [c.to_json() for c in self.columns], "counts": self.counts}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TableScaler:
        if not spec:
            raise ConfigError("a table model's config has no fitted preprocessing (the columns and their training "
                              "counts): build it from the training split with TableMarginals.for_data(data), or "
                              "train it: genlab train table-marginals --data cars")
        columns = columns_of(spec.get("columns"), where="preprocessing")
        sizes = [len(c.categories) for c in columns if c.type == CATEGORICAL]
        counts = spec.get("counts")
        if not isinstance(counts, list) or [len(k) for k in counts] != sizes:
            raise ConfigError(f"preprocessing 'counts' must hold one count per category of each categorical column "
                              f"({sizes}), got {counts!r}: rebuild it with TableMarginals.for_data(data)")
        return cls(columns, [[int(v) for v in k] for k in counts])

    # --- the transform -----------------------------------------------------------------------------
    def transform(self, fields: dict) -> dict:
        v = fields["numeric"]  # (N, Dn) data units
        return {**fields, "numeric": ((v - self.mean) / self.std).to(v.dtype)}

    def inverse(self, fields: dict) -> dict:
        z = fields["numeric"]  # (N, Dn) standardized
        return {**fields, "numeric": (z * self.std + self.mean).to(z.dtype)}

    def apply(self, data: TensorData) -> TensorData:
        """``data`` standardized; ``ConfigError`` when its columns are not the ones this scaler was fitted on."""
        columns = columns_of(data.meta.get("columns"), where=f"{data.name} ({data.split}) meta['columns']")
        if columns != self.columns:
            mine, theirs = (", ".join(f"{c.name} ({c.type})" for c in cs) for cs in (self.columns, columns))
            what = (f"has the columns {theirs}, but the model was fitted on {mine}" if mine != theirs else
                    "holds other categories than the model was fitted on")
            raise ConfigError(f"{data.name} {what}: evaluate it on the data it was trained on")
        return super().apply(data)
