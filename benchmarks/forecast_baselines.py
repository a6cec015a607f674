"""The statistical forecasting baselines of issue 26, side by side on the five shipped series (``genlab.data.series``):

- ``naive``: the last value; ``seasonal naive``: the value m steps back (m = 1: the naive forecast). Intervals from
  the residuals of the one-step (seasonal-)naive forecast over the fitting data, σ̂ = sqrt(mean e²), widened as
  σ̂·sqrt(h) (naive) and σ̂·sqrt(⌊(h − 1)/m⌋ + 1) (seasonal naive) — Hyndman & Athanasopoulos, FPP3 §5.5;
- ``AutoReg``: statsmodels' AR(p) by OLS with a constant, p chosen by AIC (``ar_select_order``: p ≤ 20, or
  p ≤ 2m + 4 when m > 8, so that a season is in reach — co2 108, seattle-temps 52);
- ``ARIMA``: d ∈ {0, 1} by the KPSS test at 5 % (AIC does not compare models of different d), then p ≤ 3, q ≤ 2
  and the trend (a constant when d = 0; none or a drift when d = 1) by AIC; no seasonal terms; exact Gaussian
  likelihood (state space);
- ``ETS``: statsmodels ``ETSModel`` with additive errors; trend and season per series (``ETS_SPEC``: co2 A,A,A(52);
  seattle A,N,A(24); macrodata A,Ad,N; nile and sunspots A,N,N — sunspots' 11-year cycle is no fixed season).
  AutoReg, ARIMA and ETS intervals are their models' own (``get_prediction``: Gaussian forecast variances).

**Protocol**: every model is fitted ONCE, on the values before the test part (train + val: ``genlab.data.series``'s
last 20 % is test). At each rolling origin o of the test part (``rolling_origins``: every origin whose h-step
target fits; ``--step`` thins them; seattle-temps every 24 hours by default) the fitted parameters are kept and
the model is re-run on the values before o (``results.apply`` for AutoReg and ARIMA, ``ETSModel.smooth`` with the
fitted parameters for ETS): no refitting. MASE is scaled by the in-sample seasonal-naive MAE of the training part
(the first 70 %) with the series' period m (``genlab.data.series_catalog``). Figures are in the series' units,
pooled over all origins and steps 1..h; coverage / width of the central 80 % and 95 % intervals.

**Anchor** (printed first): sunspots fitted to 1988, forecast 1989–2008 (one origin, 20 steps): AR(9) by exact
Gaussian maximum likelihood (``ARIMA(9, 0, 0)``) has MAE 10.6 (the issue's figure), the naive forecast 51.9.

    python benchmarks/forecast_baselines.py         # all five series: ~4 min of fitting (2 shared cores)
    python benchmarks/forecast_baselines.py --series sunspots nile --step 2
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import command_line, record, write_results  # noqa: E402

from genlab.data.series import part_starts, read_series  # noqa: E402
from genlab.data.series_catalog import BY_NAME  # noqa: E402
from genlab.metrics.forecast import LEVELS, forecast_scores, rolling_origins, seasonal_naive_scale  # noqa: E402

Z = {80: 1.2815515655446004, 95: 1.959963984540054}  # standard normal quantiles of the central intervals
ETS_SPEC = {"sunspots": {}, "nile": {}, "macrodata": {"trend": "add", "damped_trend": True},
            "co2": {"trend": "add", "seasonal": "add", "seasonal_periods": 52},
            "seattle-temps": {"seasonal": "add", "seasonal_periods": 24}}
DEFAULT_STEP = {"seattle-temps": 24}
METHODS = ("naive", "seasonal naive", "AutoReg", "ARIMA", "ETS")


# --- forecasters: each returns (mean (N, H), {level: (lower, upper)}) over the origins -------------------------
def naive_forecasts(y: np.ndarray, fit_end: int, origins: list[int], horizon: int, period: int):
    """Seasonal-naive forecasts ŷ_{o+h} = y_{o+h−m(k+1)}, k = ⌊h/m⌋ (steps h = 0..H−1; m = 1: the last value), and
    residual-based intervals σ̂·sqrt(k + 1) (FPP3 §5.5), σ̂ from the one-step residuals of y[:fit_end]."""
    h = np.arange(horizon)  # (H,)
    k = h // period  # (H,) whole periods ahead
    index = np.asarray(origins)[:, None] + h - period * (k + 1)  # (N, H)
    mean = y[index]
    residuals = y[period:fit_end] - y[:fit_end - period]
    sigma = math.sqrt(float(np.mean(residuals ** 2))) * np.sqrt(k + 1)  # (H,)
    return mean, {level: (mean - Z[level] * sigma, mean + Z[level] * sigma) for level in LEVELS}


def model_forecasts(at, origins: list[int]):
    """Stack ``at(o)`` = (mean (H,), {level: (lower (H,), upper (H,))}) over the origins."""
    runs = [at(o) for o in origins]
    mean = np.array([r[0] for r in runs])  # (N, H)
    return mean, {level: (np.array([r[1][level][0] for r in runs]), np.array([r[1][level][1] for r in runs]))
                  for level in LEVELS}


def bands(prediction, interval) -> tuple[np.ndarray, dict]:
    """A statsmodels prediction's mean and its central intervals, ``interval(alpha)`` → (N, 2) bounds."""
    return np.asarray(prediction.predicted_mean), {
        level: tuple(np.asarray(interval(1 - level / 100)).T) for level in LEVELS}


def autoreg(y: np.ndarray, fit_end: int, period: int, horizon: int):
    """AutoReg with p by AIC, fitted on y[:fit_end]; a function o → its forecast frame at origin o."""
    from statsmodels.tsa.ar_model import ar_select_order

    maxlag = 20 if period <= 8 else min(2 * period + 4, fit_end // 4)
    selected = ar_select_order(y[:fit_end], maxlag, ic="aic", trend="c")
    results = selected.model.fit()

    def at(o: int):
        p = results.apply(y[:o]).get_prediction(start=o, end=o + horizon - 1)
        return bands(p, lambda alpha: p.conf_int(alpha=alpha))
    return at, f"p = {len(selected.ar_lags or [])}"


def arima(y: np.ndarray, fit_end: int, horizon: int):
    """ARIMA fitted on y[:fit_end]: d ∈ {0, 1} by the KPSS test (5 %, as auto.arima does: AIC is not comparable
    across d), then p ≤ 3, q ≤ 2 and the trend (a constant when d = 0; none or a drift when d = 1) by AIC."""
    from statsmodels.tsa.arima.model import ARIMA
    from statsmodels.tsa.stattools import kpss

    d = int(kpss(y[:fit_end], regression="c", nlags="auto")[1] < 0.05)  # p-value < 5 %: not level-stationary
    best = None
    for trend in ("c",) if d == 0 else ("n", "t"):
        for p in range(4):
            for q in range(3):
                try:
                    r = ARIMA(y[:fit_end], order=(p, d, q), trend=trend).fit()
                except (ValueError, np.linalg.LinAlgError):
                    continue
                if best is None or r.aic < best[0].aic:
                    best = (r, (p, d, q), trend)
    results, order, trend = best

    def at(o: int):
        f = results.apply(y[:o]).get_forecast(horizon)
        return bands(f, lambda alpha: f.conf_int(alpha=alpha))
    return at, f"({order[0]},{order[1]},{order[2]}){' + drift' if trend == 't' else ''}"


def ets(y: np.ndarray, fit_end: int, horizon: int, spec: dict):
    """ETSModel (additive errors, ``spec``'s trend and season), fitted on y[:fit_end]."""
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = pd.Series(y)  # ETS prediction needs an index
    init = "heuristic" if spec.get("seasonal") else "estimated"
    results = ETSModel(y[:fit_end], error="add", initialization_method=init, **spec).fit(disp=False)

    def at(o: int):
        p = ETSModel(y[:o], error="add", initialization_method=init, **spec).smooth(results.params).get_prediction(
            start=o, end=o + horizon - 1)
        return bands(p, lambda alpha: p.pred_int(alpha=alpha))
    trend = ("Ad" if spec.get("damped_trend") else "A") if spec.get("trend") else "N"
    season = f"A({spec['seasonal_periods']})" if spec.get("seasonal") else "N"
    return at, f"ETS(A,{trend},{season})"


# --- the anchor and one series -------------------------------------------------------------------------------
def anchor() -> dict:
    """Sunspots fitted to 1988, forecast 1989–2008: AR(9) by exact ML and by OLS, and the naive forecast."""
    from statsmodels.tsa.ar_model import AutoReg
    from statsmodels.tsa.arima.model import ARIMA

    y = read_series("sunspots").values.numpy()
    o = 289  # 1989
    truth = y[o:o + 20]
    out = {"AR(9), exact ML (ARIMA(9,0,0))": ARIMA(y[:o], order=(9, 0, 0)).fit().forecast(20),
           "AR(9), OLS (AutoReg)": AutoReg(y[:o], 9, trend="c").fit().forecast(20),
           "naive": np.repeat(y[o - 1], 20)}
    return {k: float(np.abs(truth - f).mean()) for k, f in out.items()}


def evaluate(name: str, step: int) -> list[dict]:
    """Every method on series ``name`` over its test origins: one record per method."""
    series = read_series(name)
    y, m, horizon = series.values.numpy(), BY_NAME[name].period, BY_NAME[name].horizon
    val_start, test_start = part_starts(len(y))
    origins = rolling_origins(len(y), test_start, horizon, step)
    truth = y[np.asarray(origins)[:, None] + np.arange(horizon)]  # (N, H)
    scale = seasonal_naive_scale(y[:val_start], m)
    rows = []
    for method in METHODS:
        t0 = time.perf_counter()
        if method in ("naive", "seasonal naive"):
            period = 1 if method == "naive" else m
            mean, intervals = naive_forecasts(y, test_start, origins, horizon, period)
            detail = f"m = {period}"
        else:
            at, detail = {"AutoReg": lambda: autoreg(y, test_start, m, horizon),
                          "ARIMA": lambda: arima(y, test_start, horizon),
                          "ETS": lambda: ets(y, test_start, horizon, ETS_SPEC[name])}[method]()
            mean, intervals = model_forecasts(at, origins)
        s = forecast_scores(truth, mean, scale=scale, intervals=intervals)
        seconds = time.perf_counter() - t0
        rows.append(record(f"{name}: {method}", "MASE", s.mase, "", **{k: v for k, v in s.row().items()
                                                                        if k != "mase"},
                           model=detail, origins=len(origins), h=horizon, m=m, seconds=round(seconds, 1)))
        print(f"  {method:15s} {detail:24s} MAE {s.mae:9.4g}  RMSE {s.rmse:9.4g}  MASE {s.mase:6.3f}  sMAPE "
              f"{s.smape:6.2f}  cov80 {s.coverage[80]:.2f}  cov95 {s.coverage[95]:.2f}  width80 {s.width[80]:8.4g}  "
              f"width95 {s.width[95]:8.4g}  ({seconds:.1f} s)", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", nargs="*", default=list(ETS_SPEC), choices=list(ETS_SPEC))
    p.add_argument("--step", type=int, default=None, help="origins every STEP steps (default 1; seattle-temps 24)")
    p.add_argument("--name", default="forecast_baselines")
    args = p.parse_args()
    import statsmodels.tsa.api  # noqa: F401  (it sets its own warning filters on import)

    warnings.simplefilter("ignore")  # statsmodels' convergence and start-parameter warnings, one per fit
    a = anchor()
    print("anchor, sunspots fitted to 1988, forecast 1989–2008 (MAE): "
          + ", ".join(f"{k} {v:.2f}" for k, v in a.items()) + "  (issue: AR(9) 10.6, naive 51.9)", flush=True)
    records = [record(f"anchor: {k}", "MAE 1989–2008", v, "sunspots", reference=ref)
               for (k, v), ref in zip(a.items(), (10.6, None, 51.9), strict=True)]
    for name in args.series:
        step = args.step or DEFAULT_STEP.get(name, 1)
        n = BY_NAME[name].values
        print(f"{name}: n = {n}, m = {BY_NAME[name].period}, h = {BY_NAME[name].horizon}, origins every {step}",
              flush=True)
        records += evaluate(name, step)
    notes = ("Statistical baselines fitted once on train + val (the first 80 %), parameters kept fixed and re-run on "
             "the data before each rolling origin of the test part (no refit); figures pooled over origins and steps "
             "1..h in the series' units; MASE scaled by the training part's in-sample seasonal-naive MAE (period m); "
             "coverage/width of the central 80 % and 95 % intervals. See the script's docstring.")
    write_results(args.name, records, command_line(), notes=notes)


if __name__ == "__main__":
    main()
