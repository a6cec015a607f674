"""The time series genlab ships, as facts: where each is read from, its frequency, seasonal period and default
forecast horizon and context, and the dataset options they declare.

Imports neither torch nor numpy (the dataset registry reads it for ``genlab list``); ``genlab.data.series`` builds
the windows, ``benchmarks/forecast_baselines.py`` reads the periods and horizons from here.

Seasonal periods ``m`` (what seasonal-naive forecasts repeat and MASE's scale is measured with): co2 52 (weekly, a
year), macrodata 4 (quarterly), seattle-temps 24 (hourly, a day), nile 1 (yearly, no season). sunspots 11: the
solar cycle is not a fixed season (its length runs 9–14 years), but the value one cycle back is the naive
forecast that follows it (1989–2008 from 1988: MAE 34.1, against 51.9 for the last value), so sunspots' seasonal
naive repeats the last 11 years and its MASE is scaled by the in-sample 11-year naive MAE (21.6 on the training
part; the lag-1 naive's is 16.0). ETS is not given a season of 11 (see ``benchmarks/forecast_baselines.py``).
"""

from __future__ import annotations

import dataclasses

from genlab.data.options import REQUIRED, DataOption

STATSMODELS_LICENCE = "public domain / BSD (statsmodels datasets; data from public agencies)"
#: macrodata's columns (the US macroeconomic data of statsmodels, 1959Q1–2009Q3)
MACRO_COLUMNS = ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate", "unemp", "pop",
                 "infl", "realint")


@dataclasses.dataclass(frozen=True)
class SeriesInfo:
    """One shipped series: its dataset ``name``, the ``column`` it forecasts, how many ``values`` it has, its
    ``frequency``, seasonal ``period`` m, default forecast ``horizon`` h and ``context`` L (the values a window
    sees), and what the registry prints (``source``, ``licence``, ``description``)."""

    name: str
    column: str
    values: int
    frequency: str
    period: int
    horizon: int
    context: int
    source: str
    licence: str
    description: str
    calendar: tuple[str, ...] = ()  # the calendar channels after the series channel

    @property
    def loader(self) -> str:
        return f"genlab.data.series:load_{self.name.replace('-', '_')}"


SERIES: tuple[SeriesInfo, ...] = (
    SeriesInfo("sunspots", "SUNACTIVITY", 309, "yearly", 11, 20, 30,
               "statsmodels package (datasets/sunspots/sunspots.csv, read as a file)", STATSMODELS_LICENCE,
               "yearly mean sunspot numbers 1700–2008 (SILSO); the default horizon 20 forecasts 1989–2008 from 1988"),
    SeriesInfo("co2", "co2", 2_284, "weekly", 52, 52, 104,
               "statsmodels package (datasets/co2/co2.csv, read as a file)", STATSMODELS_LICENCE,
               "weekly atmospheric CO2 at Mauna Loa (ppm), 1958-03-29 to 2001-12-29; the 59 missing weeks filled "
               "by linear interpolation"),
    SeriesInfo("nile", "volume", 100, "yearly", 1, 10, 20,
               "statsmodels package (datasets/nile/nile.csv, read as a file)", STATSMODELS_LICENCE,
               "yearly flow of the Nile at Aswan (10^8 m^3), 1871–1970"),
    SeriesInfo("macrodata", "realgdp", 203, "quarterly", 4, 8, 16,
               "statsmodels package (datasets/macrodata/macrodata.csv, read as a file)", STATSMODELS_LICENCE,
               "US macroeconomic data 1959Q1–2009Q3, one column as levels (default realgdp), others as "
               "exogenous channels"),
    SeriesInfo("seattle-temps", "temp", 8_759, "hourly", 24, 24, 168,
               "vega-datasets package (_data/seattle-temps.csv, read as a file)", "BSD-3 (vega-datasets; NOAA data)",
               "hourly temperature in Seattle (°F) through 2010 (8,759 hours: the DST hour is absent; NOAA, a smooth "
               "daily cycle on a yearly one, hour-to-hour changes of ~0.1–1 °F), with hour-of-day and day-of-year "
               "as sin/cos channels",
               calendar=("hour_sin", "hour_cos", "day_sin", "day_cos")),
)
BY_NAME = {s.name: s for s in SERIES}


def window_options(context: int, horizon: int) -> tuple[DataOption, ...]:
    """The options every series dataset takes: the window's ``context`` L and ``horizon`` H, and the ``stride``
    between window origins."""
    return (DataOption("context", int, context, "values a window sees before its first forecast (L)", minimum=1),
            DataOption("horizon", int, horizon, "values after the context a window holds in 'future' (H)",
                       minimum=1),
            DataOption("stride", int, 1, "steps between consecutive windows' origins", minimum=1))


def series_options(info: SeriesInfo) -> tuple[DataOption, ...]:
    """The options of the shipped series ``info``: the window options, and for macrodata the column forecast
    (``series``) and the other columns given as channels (``exogenous``, comma-separated)."""
    options = window_options(info.context, info.horizon)
    if info.name == "macrodata":
        options += (DataOption("series", str, "realgdp", "the column forecast", choices=MACRO_COLUMNS),
                    DataOption("exogenous", str, "", "other columns as extra context channels, comma-separated "
                                                     "(e.g. realcons,unemp); empty: none"))
    return options


SERIES_CSV_OPTIONS = (DataOption("path", str, REQUIRED, "the CSV file: a header row, then one row per time step"),
                      DataOption("column", str, REQUIRED, "the column forecast (numbers; empty cells inside are gaps)"),
                      DataOption("period", int, 1, "the seasonal period m (1: none)", minimum=1),
                      *window_options(24, 12))
