"""Time series as forecasting windows (kind ``"series"``): sunspots, co2, nile, macrodata, seattle-temps and a
user's CSV column (``series-csv``).

The series are read offline from the CSV files the ``statsmodels`` and ``vega-datasets`` packages ship (neither is
imported). Their facts (frequency, seasonal period m, default horizon h and context L) are in
``genlab.data.series_catalog``.

**Parts, contiguous in time**: of n values the last ``round(0.2 n)`` are the test part, the ``round(0.1 n)`` before
them the validation part, the rest the training part (``part_starts``). A window with **origin** o (the index of its
first forecast value) is

- ``context`` (N, L, 1 + E) float32: values o−L … o−1, the series in channel 0, then E exogenous / calendar channels;
- ``target`` (N, L) float32: the series at o−L+1 … o, the value after each context step (one-step-ahead targets:
  ``target[:, t] == context[:, t + 1, 0]``, and ``target[:, -1] == future[:, 0]``);
- ``future`` (N, H) float32: the series at o … o+H−1 (direct multi-horizon targets, and what is evaluated).

A split holds the windows whose ``future`` lies in its part (o ≥ the part's start, o + H ≤ its end), origins every
``stride`` steps from the first whose context fits in the series; the context (and so ``target``'s first L − 1
values) may reach back into earlier parts, never later ones. So the test windows' futures lie in the last 20 % and
their origins are ``genlab.metrics.forecast.rolling_origins(n, test_start, H, stride)``. The training part's last
H − 1 values appear in ``future`` only, never as a one-step ``target``.

The values are unscaled: ``genlab.preprocessing_series.SeriesScaler`` is fitted on the training part and saved
with a model. ``meta`` holds what plots and a rolling-origin evaluation need: ``values`` (the whole series,
unscaled), ``exogenous`` (n rows of E values; ``[]`` when E = 0), ``time`` (years as numbers, or ISO dates /
date-times), ``split_points`` ([val start, test start]), ``origins`` (each window's o), ``channels``, ``series``,
``frequency``, ``period`` (m), ``horizon`` (H), ``context`` (L), ``stride`` and ``filled`` (gaps filled).

**Gaps** (co2's 59 missing weeks; empty cells of a CSV column) are filled by linear interpolation between their
neighbours; the steps are equally spaced, so this is interpolation in time. A series that starts or ends with a
gap is a ``ConfigError`` (trim the file): nothing to interpolate from.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import functools
import math
from pathlib import Path

import torch
from torch import Tensor

from genlab.data.packaged import package_path
from genlab.data.series_catalog import BY_NAME, MACRO_COLUMNS, SeriesInfo
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError

TEST_SHARE, VAL_SHARE = 0.2, 0.1
SPLITS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True)
class Series:
    """A whole series before windowing: ``values`` (n,) float64 (gaps filled), ``exogenous`` (n, E) float64 with
    its ``channels`` names (the series' name first), ``time`` labels for plots, and the catalogue facts."""

    name: str
    values: Tensor  # (n,)
    exogenous: Tensor  # (n, E)
    channels: tuple[str, ...]  # 1 + E names
    time: tuple[float | str, ...]
    frequency: str
    period: int
    filled: int = 0


# --- building blocks --------------------------------------------------------------------------------------
def fill_gaps(values: Tensor, what: str) -> tuple[Tensor, int]:
    """``values`` (n,) with each NaN replaced by linear interpolation between the nearest values before and after
    it, and how many were filled; ``ConfigError`` when the series starts or ends with NaN."""
    missing = torch.isnan(values)  # (n,)
    if not missing.any():
        return values, 0
    known = (~missing).nonzero().squeeze(1)  # (K,)
    if len(known) == 0 or missing[0] or missing[-1]:
        raise ConfigError(f"{what} starts or ends with missing values (of {len(values)}, {int(missing.sum())} are "
                          f"missing): only gaps between values are filled; trim the leading / trailing rows")
    index = torch.arange(len(values), dtype=values.dtype)
    right = torch.searchsorted(known, missing.nonzero().squeeze(1))  # (G,) the known index after each gap value
    lo, hi = known[right - 1], known[right]  # (G,), (G,)
    w = (index[missing] - lo) / (hi - lo)  # (G,) 0..1 between the neighbours
    out = values.clone()
    out[missing] = (1 - w) * values[lo] + w * values[hi]
    return out, int(missing.sum())


def part_starts(n: int) -> tuple[int, int]:
    """``(val_start, test_start)`` of a series of n values: the last ``round(0.2 n)`` are test, the ``round(0.1 n)``
    before them validation."""
    test_start = n - round(n * TEST_SHARE)
    return test_start - round(n * VAL_SHARE), test_start


def check_window(n: int, context: int, horizon: int, what: str) -> None:
    """``ConfigError`` unless windows of ``context`` + ``horizon`` fit: H values fit in the validation and test
    parts, and at least one training window (L + H ≤ training values) — the message names the longest possible."""
    val_start, test_start = part_starts(n)
    shortest = min(test_start - val_start, n - test_start)
    if horizon < 1 or horizon > shortest:
        raise ConfigError(f"{what}: horizon {horizon} does not fit: the validation part holds {test_start - val_start}"
                          f" values and the test part {n - test_start}; use 1 ≤ horizon ≤ {shortest}")
    if context < 1 or context + horizon > val_start:
        raise ConfigError(f"{what}: context {context} is too long for its training part of {val_start} values with "
                          f"horizon {horizon}: the longest possible context is {val_start - horizon}")


def window_origins(start: int, end: int, context: int, horizon: int, stride: int = 1) -> Tensor:
    """The origins o (int64) of the windows whose future o … o+H−1 lies in ``[start, end)`` and whose context
    o−L … o−1 in the series, every ``stride`` steps."""
    return torch.arange(max(start, context), end - horizon + 1, stride, dtype=torch.int64)


def windows(series: Series, split: str, *, context: int, horizon: int, stride: int = 1) -> TensorData:
    """``split`` of ``series`` as windows ``context`` (N, L, 1 + E), ``target`` (N, L), ``future`` (N, H), see the
    module docstring."""
    if split not in SPLITS:
        raise ConfigError(f"{series.name} has no split {split!r}: use one of {list(SPLITS)}")
    n = len(series.values)
    check_window(n, context, horizon, series.name)
    val_start, test_start = part_starts(n)
    start, end = {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, n)}[split]
    origins = window_origins(start, end, context, horizon, stride)  # (N,)
    channels = torch.cat([series.values[:, None], series.exogenous], 1)  # (n, 1 + E)
    steps = torch.arange(-context, 0)  # (L,)
    ctx = channels[origins[:, None] + steps].float()  # (N, L, 1 + E)
    target = series.values[origins[:, None] + steps + 1].float()  # (N, L)
    future = series.values[origins[:, None] + torch.arange(horizon)].float()  # (N, H)
    meta = {"series": series.channels[0], "channels": list(series.channels), "frequency": series.frequency,
            "period": series.period, "horizon": horizon, "context": context, "stride": stride,
            "values": series.values.tolist(), "exogenous": series.exogenous.tolist() if series.exogenous.shape[1]
            else [], "time": list(series.time), "split_points": [val_start, test_start],
            "origins": origins.tolist(), "filled": series.filled}
    return TensorData({"context": ctx, "target": target, "future": future}, kind="series", name=series.name,
                      split=split, meta=meta)


# --- reading the shipped files ----------------------------------------------------------------------------
def read_columns(path: Path, what: str) -> dict[str, list[str]]:
    """The CSV file at ``path`` as ``{column: cells}`` (the header's names, quotes removed)."""
    if not path.is_file():
        raise ConfigError(f"{what}: CSV file {path} does not exist: pass --set data.path=FILE")
    with path.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    if len(rows) < 2:
        raise ConfigError(f"{what}: {path} needs a header row and rows of values")
    header = [h.strip() for h in rows[0]]
    for line, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise ConfigError(f"{what}: {path} line {line} has {len(r)} cells, the header {len(header)}: fix the row")
    return {h: [r[i].strip() for r in rows[1:]] for i, h in enumerate(header)}


def numbers(cells: list[str], what: str) -> Tensor:
    """Cells as float64 (n,), empty cells (and NA, NaN) as NaN; ``ConfigError`` naming the first bad cell."""
    out = []
    for i, c in enumerate(cells):
        try:
            out.append(math.nan if c.lower() in ("", "na", "nan") else float(c))
        except ValueError:
            raise ConfigError(f"{what}: row {i + 1} holds {c!r}, not a number") from None
    return torch.tensor(out, dtype=torch.float64)


def statsmodels_file(name: str) -> Path:
    return package_path("statsmodels", "datasets", name, f"{name}.csv", dataset=name, pip="statsmodels")


def shipped(info: SeriesInfo, values: Tensor, time: list, exogenous: Tensor | None = None,
            names: tuple[str, ...] = ()) -> Series:
    """A shipped series from its raw ``values`` (gaps filled) and labels."""
    values, filled = fill_gaps(values, info.name)
    exogenous = torch.zeros(len(values), 0, dtype=torch.float64) if exogenous is None else exogenous
    return Series(info.name, values, exogenous, (info.column, *(names or info.calendar)), tuple(time),
                  info.frequency, info.period, filled)


@functools.lru_cache(maxsize=8)
def read_series(name: str, column: str = "", exogenous: str = "") -> Series:
    """The shipped series ``name`` (``column`` and ``exogenous``: macrodata's choice of columns)."""
    info = BY_NAME[name]
    column = column or info.column
    if name in ("sunspots", "nile"):
        cols = read_columns(statsmodels_file(name), name)
        year = "YEAR" if name == "sunspots" else "year"
        return shipped(info, numbers(cols[info.column], name), numbers(cols[year], name).tolist())
    if name == "co2":
        cols = read_columns(statsmodels_file(name), name)
        dates = [datetime.datetime.strptime(d, "%Y%m%d").date().isoformat() for d in cols["date"]]
        return shipped(info, numbers(cols["co2"], name), dates)
    if name == "macrodata":
        cols = read_columns(statsmodels_file(name), name)
        extra = tuple(c.strip() for c in exogenous.split(",") if c.strip())
        bad = [c for c in extra if c not in MACRO_COLUMNS or c == column]
        if bad:
            raise ConfigError(f"macrodata exogenous column {bad[0]!r} is not one of its other columns: use some of "
                              f"{', '.join(c for c in MACRO_COLUMNS if c != column)}")
        time = [y + (q - 1) / 4 for y, q in zip(numbers(cols["year"], name).tolist(),
                                                numbers(cols["quarter"], name).tolist(), strict=True)]
        ex = torch.stack([numbers(cols[c], name) for c in extra], 1) if extra else None  # (n, E)
        return dataclasses.replace(shipped(info, numbers(cols[column], name), time, ex, extra),
                                   channels=(column, *extra))
    if name == "seattle-temps":
        cols = read_columns(package_path("vega_datasets", "_data", "seattle-temps.csv", dataset=name,
                                         pip="vega-datasets"), name)
        stamps = [datetime.datetime.strptime(d, "%Y/%m/%d %H:%M") for d in cols["date"]]
        return shipped(info, numbers(cols["temp"], name), [s.isoformat(timespec="minutes") for s in stamps],
                       calendar_channels(stamps))
    raise ConfigError(f"no shipped series {name!r}: use one of {', '.join(BY_NAME)}")


def calendar_channels(stamps: list[datetime.datetime]) -> Tensor:
    """Hour of day and day of year as (sin, cos) pairs (n, 4): 2π·hour/24 and 2π·(day − 1)/days in the year."""
    hour = torch.tensor([s.hour + s.minute / 60 for s in stamps], dtype=torch.float64) * (2 * math.pi / 24)
    day = torch.tensor([(s.timetuple().tm_yday - 1) / (366 if s.year % 4 == 0 and (s.year % 100 or s.year % 400 == 0)
                                                        else 365) for s in stamps], dtype=torch.float64) * 2 * math.pi
    return torch.stack([hour.sin(), hour.cos(), day.sin(), day.cos()], 1)  # (n, 4)


# --- the registry's loaders -------------------------------------------------------------------------------
def load_sunspots(split: str = "train", *, context: int = 30, horizon: int = 20, stride: int = 1) -> TensorData:
    """Yearly sunspot numbers 1700–2008 as windows (``windows``)."""
    return windows(read_series("sunspots"), split, context=context, horizon=horizon, stride=stride)


def load_co2(split: str = "train", *, context: int = 104, horizon: int = 52, stride: int = 1) -> TensorData:
    """Weekly Mauna Loa CO2 1958–2001, gaps filled, as windows."""
    return windows(read_series("co2"), split, context=context, horizon=horizon, stride=stride)


def load_nile(split: str = "train", *, context: int = 20, horizon: int = 10, stride: int = 1) -> TensorData:
    """Yearly Nile flow 1871–1970 as windows."""
    return windows(read_series("nile"), split, context=context, horizon=horizon, stride=stride)


def load_macrodata(split: str = "train", *, series: str = "realgdp", exogenous: str = "", context: int = 16,
                   horizon: int = 8, stride: int = 1) -> TensorData:
    """One column of the US macro data (levels, not growth rates) as windows, other columns as exogenous
    channels."""
    return windows(read_series("macrodata", series, exogenous), split, context=context, horizon=horizon,
                   stride=stride)


def load_seattle_temps(split: str = "train", *, context: int = 168, horizon: int = 24, stride: int = 1
                       ) -> TensorData:
    """Hourly Seattle temperatures of 2010 with hour-of-day and day-of-year channels, as windows."""
    return windows(read_series("seattle-temps"), split, context=context, horizon=horizon, stride=stride)


def load_series_csv(split: str = "train", *, path: str, column: str, period: int = 1, context: int = 24,
                    horizon: int = 12, stride: int = 1) -> TensorData:
    """A column of the user's CSV file (one row per equally spaced step, gaps filled) as windows; the rows'
    numbers are the time labels."""
    what = f"series-csv {path}"
    cols = read_columns(Path(path), what)
    if column not in cols:
        raise ConfigError(f"{what} has no column {column!r}: its columns are {', '.join(cols)}")
    values, filled = fill_gaps(numbers(cols[column], f"{what} column {column!r}"), f"{what} column {column!r}")
    series = Series("series-csv", values, torch.zeros(len(values), 0, dtype=torch.float64), (column,),
                    tuple(range(len(values))), "unknown", period, filled)
    return windows(series, split, context=context, horizon=horizon, stride=stride)
