"""Forecast metrics (``genlab.metrics.forecast``) against values computed by hand."""

import pytest
import torch

from genlab.errors import ConfigError
from genlab.metrics.forecast import (
    coverage,
    forecast_scores,
    mae,
    mase,
    rmse,
    rolling_origins,
    seasonal_naive_scale,
    smape,
    width,
)

TRUTH = [[1.0, 2.0, 3.0], [4.0, 0.0, 6.0]]  # 2 origins, 3 steps ahead
FORECAST = [[2.0, 2.0, 1.0], [4.0, 0.0, 3.0]]  # errors [[1, 0, 2], [0, 0, 3]]


def test_mae_and_rmse_per_step_ahead():
    assert mae(TRUTH, FORECAST).tolist() == [0.5, 0.0, 2.5]
    assert rmse(TRUTH, FORECAST).tolist() == pytest.approx([(0.5) ** 0.5, 0.0, (13 / 2) ** 0.5])


def test_smape_is_in_percent_and_zero_over_zero_is_zero():
    # step 1: 200·1/3 and 0; step 2: 0/0 := 0 and 0/0; step 3: 200·2/4 and 200·3/9
    assert smape(TRUTH, FORECAST).tolist() == pytest.approx([200 / 3 / 2, 0.0, (100 + 200 / 3) / 2])


def test_mase_scales_by_the_in_sample_seasonal_naive_mae():
    train = [1.0, 3.0, 2.0, 6.0, 4.0]
    assert seasonal_naive_scale(train, 1) == pytest.approx((2 + 1 + 4 + 2) / 4)
    assert seasonal_naive_scale(train, 2) == pytest.approx((1 + 3 + 2) / 3)
    assert mase(TRUTH, FORECAST, 2.0).tolist() == [0.25, 0.0, 1.25]
    with pytest.raises(ConfigError, match="longer than the period"):
        seasonal_naive_scale([1.0, 2.0], 2)


def test_interval_coverage_and_width():
    lo, hi = [[0.0, 2.5, 2.0], [4.0, -1.0, 7.0]], [[2.0, 3.0, 4.0], [5.0, 1.0, 8.0]]
    assert coverage(TRUTH, lo, hi).tolist() == [1.0, 0.5, 0.5]  # bounds included; 2 < 2.5; 6 < 7
    assert width(lo, hi).tolist() == [1.5, 1.25, 1.5]


def test_scores_pool_every_step():
    s = forecast_scores(TRUTH, FORECAST, scale=2.0, intervals={80: (FORECAST, FORECAST)})
    assert s.mae == pytest.approx(1.0) and s.mase == pytest.approx(0.5)
    assert s.rmse == pytest.approx((14 / 6) ** 0.5)  # sqrt of the mean of all squared errors
    assert s.coverage[80] == pytest.approx(3 / 6)  # the 3 exact forecasts (4, 2 and 0)
    assert s.width[80] == 0.0
    assert s.row()["coverage80"] == s.coverage[80] and len(s.per_step["mae"]) == 3


def test_one_origin_may_be_given_as_a_vector():
    assert mae(torch.tensor([1.0, 2.0]), torch.tensor([2.0, 2.0])).tolist() == [1.0, 0.0]
    with pytest.raises(ConfigError, match=r"\(N, H\)"):
        mae([[1.0, 2.0]], [[1.0, 2.0, 3.0]])


def test_rolling_origins_cover_the_test_part_where_the_horizon_fits():
    assert rolling_origins(10, 6, 2) == [6, 7, 8]
    assert rolling_origins(309, 247, 20) == list(range(247, 290)) and rolling_origins(309, 247, 20)[-1] == 289
    assert rolling_origins(100, 70, 5, step=10) == [70, 80, 90]
    with pytest.raises(ConfigError, match="horizon ≤ 3"):
        rolling_origins(10, 7, 4)
