"""``genlab eval``'s ``forecast`` metric: a rolling-origin evaluation of a forecaster on its series' test part (S1).

The test split's windows are the rolling origins over the last 20 % (``genlab.data.series``: every origin whose
H-step future lies in the test part, ``stride`` apart); at most ``max_origins`` of them, evenly spaced, are
forecast from their context — point forecasts, and ``samples`` Monte-Carlo dropout paths for the 80 % and 95 %
intervals (N5) — and scored in data units against their futures: MAE, RMSE, MASE (scaled by the seasonal-naive
MAE of the training part, period m), sMAPE, interval coverage and mean width (``genlab.metrics.forecast``), the
same figures ``benchmarks/forecast_baselines.py`` gives the statistical baselines on the same origins.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.metrics.forecast import forecast_scores, seasonal_naive_scale

LEVELS = (80, 95)


def exogenous_future(meta: dict, origins: list[int], horizon: int) -> torch.Tensor | None:
    """The exogenous channels over each origin's horizon ``(N, H, E)``, data units; None when the series has none."""
    if not meta.get("exogenous"):
        return None
    exo = torch.tensor(meta["exogenous"], dtype=torch.float32)  # (n, E)
    return torch.stack([exo[o:o + horizon] for o in origins])


def eval_forecast(model: nn.Module, data: TensorData, *, seed: int = 0, samples: int = 100, max_origins: int = 300,
                  batch_size: int = 64, **_: Any) -> dict[str, Any]:
    """Rolling-origin scores of ``model``'s forecasts on the (prepared) test windows ``data``."""
    from genlab.models.base import Forecasts

    if not isinstance(model, Forecasts):
        raise ConfigError(f"metric 'forecast' needs a forecaster; {type(model).__name__} is not one: choose another "
                          f"metric")
    if len(data) == 0:
        raise ConfigError(f"{data.name} has no test windows: shorten the horizon or the context")
    fields = model.preprocessor.inverse(dict(data.fields))  # data units
    pick = torch.linspace(0, len(data) - 1, min(max_origins, len(data))).round().long().unique()  # (N,)
    origins = [int(data.meta["origins"][i]) for i in pick]
    context, future = fields["context"][pick], fields["future"][pick]  # (N, L, C), (N, H)
    H = future.shape[1]
    exo = exogenous_future(data.meta, origins, H)
    g = torch.Generator().manual_seed(seed)
    points, lows, highs = [], {lv: [] for lv in LEVELS}, {lv: [] for lv in LEVELS}
    for i in range(0, len(pick), batch_size):
        f = model.forecast(context[i:i + batch_size], H, samples=samples, generator=g,
                           exogenous=None if exo is None else exo[i:i + batch_size])
        points.append(f.point.cpu())
        for lv in LEVELS:
            lo, hi = f.interval(lv / 100)
            lows[lv].append(lo.cpu())
            highs[lv].append(hi.cpu())
    meta = data.meta
    scale = seasonal_naive_scale(torch.tensor(meta["values"][: meta["split_points"][0]]), int(meta["period"]))
    scores = forecast_scores(future, torch.cat(points), scale=scale,
                             intervals={lv: (torch.cat(lows[lv]), torch.cat(highs[lv])) for lv in LEVELS})
    return {**scores.row(), "forecast_origins": len(pick), "forecast_horizon": H, "forecast_samples": samples}
