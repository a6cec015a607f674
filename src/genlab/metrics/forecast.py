"""Point and interval forecast metrics, per horizon step and over all steps, and the rolling forecast origins.

Truths and forecasts are (N, H): N forecast origins, steps 1..H ahead (tensors or anything ``torch.as_tensor``
reads; computed in float64). For each step h (a column):

    MAE_h   = mean_i |y_ih − ŷ_ih|,        RMSE_h = sqrt(mean_i (y_ih − ŷ_ih)²),
    sMAPE_h = mean_i 200 |y_ih − ŷ_ih| / (|y_ih| + |ŷ_ih|)   (in %, 0/0 := 0; Makridakis 1993, the M3/M4 form),
    MASE_h  = MAE_h / Q,  Q = 1/(n−m) Σ_{t>m} |y_t − y_{t−m}|  over the training part
              (the in-sample seasonal-naive MAE with period m; Hyndman & Koehler 2006, "Another look at measures
              of forecast accuracy", IJF 22(4)),
    coverage_h = mean_i [lo_ih ≤ y_ih ≤ hi_ih],   width_h = mean_i (hi_ih − lo_ih)   (of a central interval).

The figure over all steps pools the N·H errors: the mean of the per-step figures for MAE, MASE, sMAPE, coverage and
width, and sqrt of the mean squared error for RMSE. Imports torch only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch
from torch import Tensor

from genlab.errors import ConfigError

LEVELS = (80, 95)  #: the central prediction intervals reported (%)


def _pair(truth, forecast, what: str) -> tuple[Tensor, Tensor]:
    y, f = torch.as_tensor(truth, dtype=torch.float64), torch.as_tensor(forecast, dtype=torch.float64)
    if y.dim() == 1:
        y = y[None]  # one origin: (1, H)
    if f.dim() == 1:
        f = f[None]
    if y.shape != f.shape or y.dim() != 2:
        raise ConfigError(f"{what}: truths {tuple(y.shape)} and forecasts {tuple(f.shape)} must both be (N, H): "
                          f"one row per origin, one column per step ahead")
    return y, f


def mae(truth, forecast) -> Tensor:
    """Mean absolute error per step ahead (H,)."""
    y, f = _pair(truth, forecast, "mae")
    return (y - f).abs().mean(0)


def rmse(truth, forecast) -> Tensor:
    """Root mean squared error per step ahead (H,)."""
    y, f = _pair(truth, forecast, "rmse")
    return (y - f).pow(2).mean(0).sqrt()


def smape(truth, forecast) -> Tensor:
    """Symmetric MAPE in % per step ahead (H,): 200·|y − ŷ| / (|y| + |ŷ|), 0 where both are 0."""
    y, f = _pair(truth, forecast, "smape")
    denominator = y.abs() + f.abs()  # (N, H)
    ratio = torch.where(denominator > 0, 200 * (y - f).abs() / denominator.clamp_min(1e-300), torch.zeros_like(y))
    return ratio.mean(0)


def seasonal_naive_scale(train, period: int = 1) -> float:
    """MASE's denominator Q: the in-sample MAE of the seasonal-naive forecast ŷ_t = y_{t−m} over the training
    values ``train`` (n,); ``ConfigError`` when the training part is not longer than m or Q is 0 (constant)."""
    y = torch.as_tensor(train, dtype=torch.float64).flatten()
    if period < 1 or len(y) <= period:
        raise ConfigError(f"MASE needs a training part longer than the period m = {period}: it has {len(y)} values")
    q = float((y[period:] - y[:-period]).abs().mean())
    if q == 0:
        raise ConfigError(f"MASE is undefined: the training part's seasonal-naive MAE (m = {period}) is 0")
    return q


def mase(truth, forecast, scale: float) -> Tensor:
    """Mean absolute scaled error per step ahead (H,): MAE_h / ``scale`` (``seasonal_naive_scale``)."""
    return mae(truth, forecast) / scale


def coverage(truth, lower, upper) -> Tensor:
    """Share of truths inside [lower, upper] per step ahead (H,)."""
    y, lo = _pair(truth, lower, "coverage")
    _, hi = _pair(truth, upper, "coverage")
    return ((lo <= y) & (y <= hi)).double().mean(0)


def width(lower, upper) -> Tensor:
    """Mean width of the intervals [lower, upper] per step ahead (H,)."""
    lo, hi = _pair(lower, upper, "width")
    return (hi - lo).mean(0)


def rolling_origins(n_values: int, test_start: int, horizon: int, step: int = 1) -> list[int]:
    """The forecast origins o (index of the first value forecast, the forecast made from values[:o]) over the test
    part: test_start, test_start + step, … while the H-step target o … o+H−1 fits in the n values."""
    if horizon < 1 or step < 1:
        raise ConfigError(f"rolling_origins needs horizon ≥ 1 and step ≥ 1, got {horizon} and {step}")
    if not 0 < test_start <= n_values - horizon:
        raise ConfigError(f"no origin fits: the test part starts at {test_start} of {n_values} values and a forecast "
                          f"needs {horizon}; use a horizon ≤ {n_values - test_start}")
    return list(range(test_start, n_values - horizon + 1, step))


@dataclasses.dataclass
class ForecastScores:
    """The metrics of one method on one series: over all steps, and per step 1..H in ``per_step``; interval
    figures keyed by level (80, 95) when intervals were given."""

    mae: float
    rmse: float
    mase: float
    smape: float
    coverage: dict[int, float]
    width: dict[int, float]
    per_step: dict[str, list[float]]

    def row(self) -> dict[str, float]:
        """The figures over all steps as one flat row: mae, rmse, mase, smape, coverage80, width80, …"""
        out = {"mae": self.mae, "rmse": self.rmse, "mase": self.mase, "smape": self.smape}
        for level in self.coverage:
            out[f"coverage{level}"], out[f"width{level}"] = self.coverage[level], self.width[level]
        return out


def forecast_scores(truth, forecast, *, scale: float,
                    intervals: Mapping[int, tuple[object, object]] | None = None) -> ForecastScores:
    """All metrics of point ``forecast`` (N, H) against ``truth`` (N, H), MASE scaled by ``scale``, and of the
    central ``intervals`` {level: (lower, upper)}, each (N, H)."""
    y, f = _pair(truth, forecast, "forecast_scores")
    per_step = {"mae": mae(y, f), "rmse": rmse(y, f), "mase": mase(y, f, scale), "smape": smape(y, f)}
    cover, wide = {}, {}
    for level, (lo, hi) in (intervals or {}).items():
        per_step[f"coverage{level}"], per_step[f"width{level}"] = coverage(y, lo, hi), width(lo, hi)
        cover[level], wide[level] = float(per_step[f"coverage{level}"].mean()), float(per_step[f"width{level}"].mean())
    return ForecastScores(mae=float(per_step["mae"].mean()), rmse=float(per_step["rmse"].pow(2).mean().sqrt()),
                          mase=float(per_step["mase"].mean()), smape=float(per_step["smape"].mean()),
                          coverage=cover, width=wide, per_step={k: v.tolist() for k, v in per_step.items()})
