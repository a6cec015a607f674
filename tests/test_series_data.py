"""The series datasets (``genlab.data.series``): window shapes and shifts, contiguous parts, gaps, bad options, and
the ``SeriesScaler`` fitted on the training part only."""

import math

import pytest
import torch

from genlab.data import registry
from genlab.data.series import Series, fill_gaps, part_starts, read_series, windows
from genlab.errors import ConfigError
from genlab.metrics.forecast import rolling_origins
from genlab.preprocessing_series import SeriesScaler

SHIPPED = ("sunspots", "co2", "nile", "macrodata", "seattle-temps")


def toy_series(n: int = 100, exogenous: int = 1) -> Series:
    t = torch.arange(n, dtype=torch.float64)
    return Series("toy", t * 2 + 1, torch.stack([t.sin()] * exogenous, 1) if exogenous else torch.zeros(n, 0),
                  ("y", *[f"x{i}" for i in range(exogenous)]), tuple(range(n)), "unknown", 1)


@pytest.mark.parametrize("name", SHIPPED)
def test_windows_shift_by_one_and_future_follows_the_context(name):
    d = registry.load(name, "test")
    ctx, target, future = d.fields["context"], d.fields["target"], d.fields["future"]  # (N, L, C), (N, L), (N, H)
    info = registry.info(name)
    assert ctx.shape[1:] == (d.meta["context"], info.shape[1]) and target.shape == ctx.shape[:2]
    assert future.shape == (len(d), d.meta["horizon"]) and ctx.dtype == target.dtype == future.dtype == torch.float32
    assert torch.equal(target[:, :-1], ctx[:, 1:, 0])
    assert torch.equal(target[:, -1], future[:, 0])
    values = torch.tensor(d.meta["values"], dtype=torch.float32)
    o = torch.tensor(d.meta["origins"])
    assert torch.equal(future, values[o[:, None] + torch.arange(future.shape[1])])
    assert torch.equal(ctx[:, -1, 0], values[o - 1])


def test_sunspots_is_1700_to_2008_and_its_last_test_window_forecasts_1989_to_2008():
    d = registry.load("sunspots", "test")
    assert len(d.meta["values"]) == 309 and d.meta["time"][0] == 1700 and d.meta["time"][-1] == 2008
    assert d.meta["period"] == 11 and d.meta["horizon"] == 20
    last = d.meta["origins"][-1]
    assert d.meta["time"][last] == 1989 and d.fields["future"][-1, -1] == pytest.approx(2.9)


def test_splits_are_contiguous_and_their_futures_disjoint_in_their_own_parts():
    n = 309
    val_start, test_start = part_starts(n)
    assert (val_start, test_start) == (n - 62 - 31, n - 62)
    spans = {}
    for split, (lo, hi) in {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, n)}.items():
        d = registry.load("sunspots", split)
        o = torch.tensor(d.meta["origins"])
        assert o.min() >= lo and o.max() + d.meta["horizon"] <= hi  # futures inside the part only
        assert (o - d.meta["context"]).min() >= 0
        spans[split] = o
    assert spans["train"].max() < spans["val"].min() and spans["val"].max() < spans["test"].min()
    test = registry.load("sunspots", "test")
    assert test.meta["origins"] == rolling_origins(n, test_start, 20)
    assert min(test.meta["origins"]) >= round(0.8 * n)  # the last 20 %


def test_stride_thins_the_origins():
    d = registry.load("seattle-temps", "test", stride=24)
    n, (_, test_start) = len(d.meta["values"]), d.meta["split_points"]
    assert d.meta["origins"] == rolling_origins(n, test_start, 24, 24) and len(d) == (n - test_start - 24) // 24 + 1


def test_co2_gaps_are_filled_by_linear_interpolation():
    series = read_series("co2")
    assert series.filled == 59 and not torch.isnan(series.values).any()
    assert registry.load("co2", "val").meta["filled"] == 59
    filled, k = fill_gaps(torch.tensor([1.0, math.nan, math.nan, 4.0, math.nan, 8.0], dtype=torch.float64), "x")
    assert k == 3 and filled.tolist() == [1.0, 2.0, 3.0, 4.0, 6.0, 8.0]


def test_leading_or_trailing_gaps_are_an_error():
    with pytest.raises(ConfigError, match="starts or ends"):
        fill_gaps(torch.tensor([math.nan, 1.0, 2.0]), "x")


def test_calendar_and_exogenous_channels():
    d = registry.load("seattle-temps", "val")
    assert d.meta["channels"] == ["temp", "hour_sin", "hour_cos", "day_sin", "day_cos"]
    hour = torch.atan2(d.fields["context"][0, :, 1], d.fields["context"][0, :, 2])  # (L,) the hour's angle
    assert torch.allclose(hour.diff().remainder(2 * math.pi)[:10], torch.full((10,), 2 * math.pi / 24), atol=1e-5)
    assert read_series("macrodata").channels == ("realgdp",)  # the default column, no exogenous channels
    m = registry.load("macrodata", "train", series="unemp", exogenous="realgdp, infl")
    assert m.fields["context"].shape[2] == 3 and m.meta["channels"] == ["unemp", "realgdp", "infl"]
    with pytest.raises(ConfigError, match="not one of its other columns"):
        registry.load("macrodata", "train", exogenous="unemp,realgdp")


@pytest.mark.parametrize(("options", "message"), [
    ({"horizon": 0}, "must be ≥ 1"),
    ({"horizon": 40}, "1 ≤ horizon ≤ 31"),
    ({"context": 500}, "longest possible context is 196"),
    ({"stride": 0}, "must be ≥ 1"),
])
def test_bad_options_name_the_limit(options, message):
    with pytest.raises(ConfigError, match=message):
        registry.load("sunspots", "train", **options)


def test_scaler_is_fitted_on_the_training_part_only():
    train = windows(toy_series(), "train", context=10, horizon=5)
    scaler = SeriesScaler.fit(train)
    end = train.meta["split_points"][0]
    assert scaler.mean[0] == pytest.approx(sum(2 * t + 1 for t in range(end)) / end)
    changed = train.replace(meta={**train.meta, "values": train.meta["values"][:end] + [1e6] * (100 - end)})
    again = SeriesScaler.fit(changed)
    assert torch.equal(scaler.mean, again.mean) and torch.equal(scaler.std, again.std)


def test_scaler_round_trips_and_rebuilds_from_its_spec():
    d = windows(toy_series(exogenous=2), "test", context=10, horizon=5)
    scaler = SeriesScaler.fit(d)
    scaled = scaler.transform(dict(d.fields))
    assert scaled["context"][..., 0].mean().abs() > 1  # the test part lies above the training mean
    back = scaler.inverse(scaled)
    for k in ("context", "target", "future"):
        assert torch.allclose(back[k], d.fields[k], rtol=1e-5, atol=1e-4)
    assert torch.allclose(scaler.unscale(scaled["future"]), d.fields["future"], rtol=1e-5, atol=1e-4)
    rebuilt = SeriesScaler.from_spec(scaler.spec())
    rebuilt.load_state_dict(scaler.state_dict())
    assert torch.equal(rebuilt.transform(dict(d.fields))["target"], scaled["target"])
    with pytest.raises(ConfigError, match="channels"):
        scaler.transform({"context": torch.zeros(2, 10, 1)})


def test_series_csv_reads_a_column_and_fills_its_gaps(tmp_path):
    rows = ["step,value"] + [f"{i},{'' if i == 7 else i * 1.5}" for i in range(60)]
    path = tmp_path / "s.csv"
    path.write_text("\n".join(rows) + "\n")
    d = registry.load("series-csv", "train", path=str(path), column="value", context=8, horizon=4)
    assert d.meta["filled"] == 1 and d.meta["values"][7] == pytest.approx(10.5)
    assert d.fields["context"].shape[1:] == (8, 1)
    with pytest.raises(ConfigError, match="no column"):
        registry.load("series-csv", "train", path=str(path), column="nope")
