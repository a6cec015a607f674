"""``SeriesScaler``: a time series' fitted preprocessing (``genlab.preprocessing``), for the forecasting models.

Fitted on the **training part only**: the mean and standard deviation (population, 1/n) of each channel — the
series, then its exogenous / calendar channels — over the training part's values (``meta["values"]``,
``meta["exogenous"]`` up to ``meta["split_points"][0]``, as ``genlab.data.series`` writes them), so nothing after
the training part moves the scaling. A constant channel keeps std 1. The buffers ``mean`` and ``std`` (C,) are
saved in the model's safetensors; the spec is just the channel names.

``transform`` standardizes ``context`` (N, L, C) per channel and ``target`` / ``future`` (and any other field named
in ``SERIES_FIELDS``) with the series channel's statistics; ``inverse`` maps them back to data units. A model's
forecasts in scaled units go back with ``unscale`` (values: z·std₀ + mean₀) and ``unscale_spread`` (standard
deviations, interval half-widths: s·std₀). Imports torch only: ``models/`` may use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.preprocessing import Preprocessor

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData

MIN_STD = 1e-8  # below this a channel is constant: it is centred, not scaled
SERIES_FIELDS = ("target", "future")  # fields holding the series channel alone, (N, ...) in data units


class SeriesScaler(Preprocessor):
    """Per-channel standardization fitted on a series' training part."""

    def __init__(self, channels: tuple[str, ...]) -> None:
        super().__init__()
        self.channels = tuple(channels)
        self.register_buffer("mean", torch.zeros(len(self.channels)))  # (C,) data units
        self.register_buffer("std", torch.ones(len(self.channels)))  # (C,) data units

    @classmethod
    def fit(cls, data: TensorData) -> SeriesScaler:
        """Fitted on the training part of ``data``'s series (any split of it: the statistics come from ``meta``)."""
        meta = data.meta
        if not {"values", "split_points", "channels"} <= set(meta):
            raise ConfigError(f"{data.name} ({data.split}) is not a series dataset (its meta lacks values, "
                              f"split_points, channels): train a forecaster on a series, e.g. --data sunspots")
        end = int(meta["split_points"][0])  # the training part is values[:end]
        values = torch.tensor(meta["values"][:end], dtype=torch.float64)[:, None]  # (n_train, 1)
        if meta.get("exogenous"):
            values = torch.cat([values, torch.tensor(meta["exogenous"][:end], dtype=torch.float64)], 1)  # (n, C)
        channels = tuple(meta["channels"])
        if values.shape[1] != len(channels):
            raise ConfigError(f"{data.name}: meta names {len(channels)} channels but holds {values.shape[1]}")
        scaler = cls(channels)
        std = values.std(0, unbiased=False)  # (C,)
        scaler.mean.copy_(values.mean(0))
        scaler.std.copy_(torch.where(std > MIN_STD, std, torch.ones_like(std)))
        return scaler

    def spec(self) -> dict[str, Any]:
        return {"channels": list(self.channels)}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> SeriesScaler:
        channels = spec.get("channels") if spec else None
        if not channels:
            raise ConfigError("a forecaster's config has no fitted preprocessing (the series' channels): build it "
                              "from the training split with SeriesScaler.fit(data), or train it")
        return cls(tuple(channels))

    # --- the transform -----------------------------------------------------------------------------
    def scale(self, y: Tensor) -> Tensor:
        """Series values (any shape) in data units → standardized."""
        return ((y - self.mean[0]) / self.std[0]).to(y.dtype)

    def unscale(self, z: Tensor) -> Tensor:
        """Standardized series values (any shape, e.g. forecasts (N, H) or quantiles) → data units."""
        return (z * self.std[0] + self.mean[0]).to(z.dtype)

    def unscale_spread(self, s: Tensor) -> Tensor:
        """A spread of the series in standardized units (a std, an interval width) → data units."""
        return (s * self.std[0]).to(s.dtype)

    def transform(self, fields: dict) -> dict:
        out = dict(fields)
        if "context" in out:
            x = out["context"]  # (N, L, C)
            self._check(x)
            out["context"] = ((x - self.mean) / self.std).to(x.dtype)
        for k in SERIES_FIELDS:
            if k in out:
                out[k] = self.scale(out[k])
        return out

    def inverse(self, fields: dict) -> dict:
        out = dict(fields)
        if "context" in out:
            z = out["context"]  # (N, L, C)
            self._check(z)
            out["context"] = (z * self.std + self.mean).to(z.dtype)
        for k in SERIES_FIELDS:
            if k in out:
                out[k] = self.unscale(out[k])
        return out

    def _check(self, x: Tensor) -> None:
        if x.shape[-1] != len(self.channels):
            raise ConfigError(f"context has {x.shape[-1]} channels, the scaler was fitted on {len(self.channels)} "
                              f"({', '.join(self.channels)}): evaluate the model on the data it was trained on")
