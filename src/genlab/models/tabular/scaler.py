"""``TableScaler``: a mixed-type table's fitted preprocessing (``genlab.preprocessing``).

Fitted on the training split: the mean and the standard deviation (population, ``1/N``) of each numeric column
(buffers ``mean``, ``std``; a constant column keeps std 1), and how often each category of each categorical
column occurs (``counts``). Its spec, in the model's config, is the column spec plus those counts; ``transform``
standardizes ``numeric`` (z = (v − mean) / std), ``inverse`` maps it back to data units. ``categorical`` (codes)
passes through unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from genlab.columns import Column
from genlab.models.tabular.table_spec import TablePreprocessor

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData

MIN_STD = 1e-8  # below this a numeric column is constant: it is centred, not scaled


class TableScaler(TablePreprocessor):
    """Per-column standardization of ``numeric``; the columns and the training counts of the categories."""

    def __init__(self, columns: tuple[Column, ...], counts: list[list[int]]) -> None:
        super().__init__(columns, counts)
        dn = len(self.numeric)
        self.register_buffer("mean", torch.zeros(dn))  # (Dn,) data units
        self.register_buffer("std", torch.ones(dn))  # (Dn,) data units

    @classmethod
    def fit(cls, data: TensorData) -> TableScaler:
        scaler = cls.empty_for(data)
        numeric = data.fields["numeric"].double()  # (N, Dn)
        std = numeric.std(0, unbiased=False)
        scaler.mean.copy_(numeric.mean(0))
        scaler.std.copy_(torch.where(std > MIN_STD, std, torch.ones_like(std)))
        return scaler

    # --- the transform -----------------------------------------------------------------------------
    def transform(self, fields: dict) -> dict:
        v = fields["numeric"]  # (N, Dn) data units
        return {**fields, "numeric": ((v - self.mean) / self.std).to(v.dtype)}

    def inverse(self, fields: dict) -> dict:
        z = fields["numeric"]  # (N, Dn) standardized
        return {**fields, "numeric": (z * self.std + self.mean).to(z.dtype)}
