"""S1 forecasters (AR-MLP, LSTM/GRU, TCN, transformer): causal one-step training, forecasting by feeding back,
direct output, Monte-Carlo dropout paths (N5), exogenous inputs through an S3 graph, the CLI."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.errors import ConfigError
from genlab.models.forecast import Forecaster

BODIES = ["mlp", "lstm", "gru", "tcn", "transformer"]


def _model(body: str, channels: int = 1, **kw) -> Forecaster:
    names = ["y", *(f"x{i}" for i in range(1, channels))]
    model = Forecaster(body=body, channels=channels, context=12, horizon=5, hidden=8, layers=2, heads=2,
                       preprocessing={"channels": names}, **kw)
    model.preprocessor.mean.copy_(torch.linspace(10, 20, channels))
    model.preprocessor.std.copy_(torch.linspace(2, 3, channels))
    return model.eval()


@pytest.mark.parametrize("body", BODIES)
def test_a_step_prediction_never_depends_on_later_steps(body):
    model = _model(body)
    x = torch.randn(3, 12, 1)
    y = x.clone()
    y[:, 7:] += torch.randn(3, 5, 1)  # change steps 7…
    step_x, step_y = model._heads(x)[0], model._heads(y)[0]
    assert torch.allclose(step_x[:, :7], step_y[:, :7], atol=1e-6) and not torch.allclose(step_x[:, 7:], step_y[:, 7:])


@pytest.mark.parametrize("body", BODIES)
def test_the_loss_is_the_mse_of_the_shifted_targets_and_save_load_keeps_it(body, tmp_path):
    import genlab

    model = _model(body)
    context, target, future = torch.randn(4, 12, 1), torch.randn(4, 12), torch.randn(4, 5)
    out = model(context, target, future)
    assert torch.allclose(out.loss, F.mse_loss(model._heads(context)[0], target))
    model.save_pretrained(tmp_path / "m")
    loaded = genlab.load(tmp_path / "m")
    assert torch.equal(loaded(context, target, future).loss, out.loss)
    assert torch.equal(loaded.preprocessor.mean, model.preprocessor.mean)  # the scaler comes with the weights


@pytest.mark.parametrize("options", [{}, {"series_input": "difference", "highway": 5},
                                     {"series_input": "difference", "highway": -1}],
                         ids=["level", "difference", "difference-whole-window"])
@pytest.mark.parametrize("body", BODIES)
def test_forecasting_feeds_each_prediction_back_into_the_window(body, options):
    model = _model(body, **options)
    torch.nn.init.normal_(model.graph.nodes["ar"].linear.weight, std=0.1)  # a highway that is not zero
    context = torch.randn(2, 15, 1) * 2 + 10  # data units, longer than the model's 12 steps
    f = model.forecast(context, 4)
    seq = (context[:, -12:] - 10.0) / 2.0  # standardized with channel 0's mean 10, std 2
    want = []
    for _ in range(4):
        y = model._heads(seq)[0][:, -1]
        want.append(y * 2.0 + 10.0)
        seq = torch.cat([seq, y[:, None, None]], 1)
        if body not in ("lstm", "gru"):  # the window slides; a recurrent body carries its state over every value
            seq = seq[:, 1:]
    assert torch.allclose(f.point, torch.stack(want, 1), atol=1e-5)
    direct = _model(body, output="direct", **options)
    assert direct.forecast(context, 5).point.shape == (2, 5)
    with pytest.raises(ConfigError, match="horizon ≤ 5"):
        direct.forecast(context, 6)


def test_sample_paths_come_from_dropout_and_residual_noise_and_repeat_with_the_seed():
    model = _model("gru", dropout=0.3)
    context = torch.randn(2, 12, 1) * 2 + 10
    a = model.forecast(context, 6, samples=50, generator=torch.Generator().manual_seed(1))
    b = model.forecast(context, 6, samples=50, generator=torch.Generator().manual_seed(1))
    assert a.paths.shape == (2, 50, 6) and torch.equal(a.paths, b.paths) and a.paths.std(1).min() > 0
    lo, hi = a.interval(0.8)
    lo95, hi95 = a.interval(0.95)
    assert (lo <= hi).all() and (lo95 <= lo).all() and (hi <= hi95).all()
    assert not model.training and all(not m.training for m in model.modules())  # dropout switched back off
    still = _model("gru", dropout=0.0, residual_noise=False)
    paths = still.forecast(context, 6, samples=5, generator=torch.Generator().manual_seed(1)).paths
    assert torch.allclose(paths, still.forecast(context, 6).point[:, None].expand_as(paths), atol=1e-5)


def test_exogenous_channels_are_a_branch_of_the_graph_and_must_be_given_over_the_horizon():
    model = _model("tcn", channels=3)
    assert set(model.graph.input_names) == {"series", "exogenous"} and "e" in model.graph.nodes
    context = torch.randn(2, 12, 3)
    with pytest.raises(ConfigError, match="exogenous"):
        model.forecast(context, 4)
    f = model.forecast(context, 4, exogenous=torch.randn(2, 4, 2))
    assert f.point.shape == (2, 4)
    with pytest.raises(ConfigError, match="channels"):
        model.forecast(torch.randn(2, 12, 1), 4)
    with pytest.raises(ConfigError, match="reads the last 12"):
        model.forecast(torch.randn(2, 8, 3), 4, exogenous=torch.randn(2, 4, 2))


def test_a_forecaster_trains_evaluates_by_rolling_origin_and_forecasts_from_the_cli(tmp_path):
    runner = CliRunner()
    run = tmp_path / "nile"
    r = runner.invoke(app, ["train", "forecast-mlp", "--data", "nile", "--epochs", "3", "--out", str(run), "--quiet",
                            "--set", "model.hidden=8"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["eval", str(run)])
    assert r.exit_code == 0, r.output
    figures = json.loads((run / "eval.json").read_text())
    assert figures["forecast_horizon"] == 10 and figures["forecast_origins"] == 11  # test part 20, H 10: 11 origins
    assert 0 <= figures["coverage80"] <= figures["coverage95"] <= 1 and figures["mase"] > 0
    r = runner.invoke(app, ["forecast", str(run), "--origin", "-10", "--samples", "20",
                            "--out", str(tmp_path / "f.png")])
    assert r.exit_code == 0, r.output
    rows = [re.findall(r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?", line) for line in r.output.splitlines()[1:11]]
    assert len(rows) == 10 and all(len(row) == 7 for row in rows)  # time, forecast, two intervals, truth
    assert (tmp_path / "f.png").stat().st_size > 5000
    r = runner.invoke(app, ["forecast", str(run), "--horizon", "3", "--out", str(tmp_path / "f.csv")])
    assert r.exit_code == 0 and (tmp_path / "f.csv").read_text().count("\n") == 4  # header + 3 steps past the end
    bad = runner.invoke(app, ["forecast", str(run), "--origin", "3"])
    assert bad.exit_code == 2 and "--origin must leave 20 steps" in bad.output
    assert runner.invoke(app, ["forecast", str(run), "--horizon", "0"]).exit_code == 2


def test_the_residual_noise_is_measured_one_step_ahead_on_the_held_out_validation_part():
    from genlab.data import load

    train_data = load("nile", split="train")
    model = Forecaster.for_data(train_data, {"hidden": 8}).eval()
    model.after_fit(model.prepare(train_data))
    meta, L = train_data.meta, model.config.context
    v0, t0 = meta["split_points"]
    values = torch.tensor(meta["values"], dtype=torch.float32)
    z = (values - model.preprocessor.mean[0]) / model.preprocessor.std[0]
    residuals = [model._heads(z[o - L:o][None, :, None])[0][0, -1] - z[o] for o in range(max(v0, L), t0)]
    assert len(residuals) == t0 - v0 and float(model.residual_std) == pytest.approx(float(torch.stack(residuals).std()),
                                                                                    rel=1e-5)


def test_bootstrap_noise_draws_the_centred_validation_residuals_and_is_saved_with_the_model(tmp_path):
    import genlab
    from genlab.data import load

    train_data = load("seattle-temps", split="train")
    model = Forecaster.for_data(train_data, {"hidden": 8, "residual_draw": "bootstrap"}).eval()
    model.after_fit(model.prepare(train_data))
    context, truth = model._validation_steps(train_data.meta)
    residual = model._heads(context)[0][:, -1] - truth  # (N,) one step ahead, standardized
    centred = residual - residual.mean()
    q = model.residual_quantiles
    assert float(q[0]) == pytest.approx(float(centred.min()), rel=1e-4)
    assert float(q[-1]) == pytest.approx(float(centred.max()), rel=1e-4)
    assert float(q[100]) == pytest.approx(float(centred.median()), abs=1e-3 * float(centred.std()))
    torch.manual_seed(0)
    draws = model._residual_noise()(200_000)
    for level in (0.05, 0.25, 0.5, 0.75, 0.95):  # the draws follow the residuals' law, not a Gaussian's
        assert float(draws.quantile(level)) == pytest.approx(float(centred.quantile(level)),
                                                             abs=0.02 * float(centred.std()))
    model.save_pretrained(tmp_path / "m")
    assert torch.equal(genlab.load(tmp_path / "m").residual_quantiles, q)
    fixed = _model("gru", dropout=0.0, residual_draw="bootstrap")
    fixed.residual_quantiles.fill_(0.5)  # every draw 0.5: each path is the point forecast with 0.5 added per step
    context = torch.randn(2, 12, 1) * 2 + 10
    paths = fixed.forecast(context, 4, samples=3, generator=torch.Generator().manual_seed(0)).paths
    assert torch.allclose(paths, paths[:, :1].expand_as(paths))
    assert not torch.allclose(paths[:, 0], fixed.forecast(context, 4).point, atol=1e-3)


def test_predicting_changes_a_zero_head_is_the_naive_forecast_and_levels_need_no_last_value():
    model = _model("mlp")
    for p in model.graph.nodes["step"].parameters():
        torch.nn.init.zeros_(p)
    context = torch.randn(2, 12, 1) * 2 + 10
    assert torch.allclose(model.forecast(context, 3).point, context[:, -1:, 0].expand(2, 3), atol=1e-5)
    level = _model("mlp", predict="level")
    for p in level.graph.nodes["step"].parameters():
        torch.nn.init.zeros_(p)
    assert torch.allclose(level.forecast(context, 3).point, torch.full((2, 3), 10.0))  # the training mean


@pytest.mark.parametrize("body", BODIES)
def test_the_highway_is_a_linear_autoregression_fed_back_with_the_forecasts(body):
    """LSTNet's highway: with the body's head at zero, the change-forecaster is y_{t+1} = y_t + Σ a_i y_{t−i} + b,
    recursed on its own forecasts (standardized units); it starts at zero, so the model begins as without it."""
    torch.manual_seed(0)
    plain = _model(body, highway=0)
    torch.manual_seed(0)
    model = _model(body, highway=3)
    x = torch.randn(2, 12, 1)
    assert torch.equal(plain._heads(x)[0], model._heads(x)[0])  # a zero highway changes nothing
    for p in model.graph.nodes["step"].parameters():
        torch.nn.init.zeros_(p)
    a, b = torch.tensor([0.1, -0.2, 0.3]), 0.05  # weights on y_{t−2}, y_{t−1}, y_t
    with torch.no_grad():
        model.graph.nodes["ar"].linear.weight.copy_(a[None])
        model.graph.nodes["ar"].linear.bias.fill_(b)
    context = torch.randn(2, 15, 1) * 2 + 10
    y = list(((context[:, :, 0] - 10.0) / 2.0).unbind(1))
    for _ in range(4):
        y.append(y[-1] + a[0] * y[-3] + a[1] * y[-2] + a[2] * y[-1] + b)
    want = torch.stack(y[-4:], 1) * 2.0 + 10.0
    assert torch.allclose(model.forecast(context, 4).point, want, atol=1e-5)
    assert torch.allclose(model._heads((context[:, -12:] - 10.0) / 2.0)[0][:, -1] * 2 + 10, want[:, 0], atol=1e-5)
    assert _model(body, highway=-1).graph.nodes["ar"].p == 12  # -1: the whole context
    with pytest.raises(ConfigError, match="highway"):
        _model(body, highway=-2)
    with pytest.raises(ConfigError, match="highway_init=ols fits the highway"):
        _model(body, highway=0, highway_init="ols")


def test_the_ols_highway_starts_at_the_least_squares_autoregression_of_the_training_windows():
    """On an AR(2) series, ``highway_init="ols"`` recovers the generating coefficients (as changes)."""
    from genlab.data.tensors import TensorData

    g = torch.Generator().manual_seed(0)
    e = (0.05 * torch.randn(20_000, generator=g)).tolist()
    y = [0.0, 0.0]
    for t in range(2, 20_000):
        y.append(0.6 * y[-1] - 0.3 * y[-2] + 0.1 + e[t])
    y = torch.tensor(y)
    L = 12
    windows = y.unfold(0, L + 1, 1)  # (N, L + 1)
    context, target = windows[:, :L, None], windows[:, 1:]  # (N, L, 1), (N, L)
    data = TensorData({"context": context, "target": target, "future": target[:, :5]}, name="ar2", split="train",
                      kind="series")
    model = _model("mlp", highway=3, highway_init="ols")
    model.before_fit(data)
    ar = model.graph.nodes["ar"].linear
    # y_{t+1} − y_t = 0 · y_{t−2} − 0.3 y_{t−1} + (0.6 − 1) y_t + 0.1
    assert torch.allclose(ar.weight[0], torch.tensor([0.0, -0.3, -0.4]), atol=0.02)
    assert abs(float(ar.bias) - 0.1) < 0.02
    assert not any(q.requires_grad for q in ar.parameters())  # kept fixed: the body learns the residual
    assert not any(q.any() for q in model.graph.nodes["step"].parameters())  # the model starts as that AR
    zero = _model("mlp", highway=3)
    zero.before_fit(data)
    assert not zero.graph.nodes["ar"].linear.weight.any()  # the default starts at zero


def test_the_ols_highway_is_the_unregularized_least_squares_fit_on_a_smooth_series():
    """On a smooth series (nearly collinear lags) the OLS highway is the exact least-squares AR on levels, whose
    fed-back forecast keeps the series' oscillation; a ridge (the earlier 1e-3 of the mean squared lag) shrank its
    roots and damped it."""
    from genlab.data.tensors import TensorData

    g = torch.Generator().manual_seed(0)
    t = torch.arange(4_000, dtype=torch.float64)
    y = (torch.sin(2 * math.pi * t / 48) + 1e-3 * torch.randn(4_000, generator=g, dtype=torch.float64)).float()
    L = 12
    windows = y.unfold(0, L + 1, 1)  # (N, L + 1)
    context, target = windows[:, :L, None], windows[:, 1:]
    data = TensorData({"context": context, "target": target, "future": target[:, :5]}, name="sine", split="train",
                      kind="series")
    model = _model("mlp", highway=-1, highway_init="ols")
    model.before_fit(data)
    ar = model.graph.nodes["ar"].linear
    X = torch.cat([context[:, :, 0], torch.ones(len(context), 1)], 1).double()
    y_change = (target[:, -1] - context[:, -1, 0]).double()
    w = torch.linalg.lstsq(X, y_change[:, None]).solution[:, 0]
    fitted = torch.cat([ar.weight[0], ar.bias]).double()
    best = ((X @ w - y_change) ** 2).mean()
    assert ((X @ fitted - y_change) ** 2).mean() <= best * 1.001  # the least-squares minimum, not a shrunk fit
    # fed back over ten periods (480 steps) from the last window, the AR keeps the sine: off by < 0.005 (8e-4 here;
    # the 1e-3 ridge damped it, 0.015 off)
    window = y[-L:].tolist()
    for _ in range(480):
        lags = torch.tensor(window[-L:])
        window.append(window[-1] + float(ar.weight[0] @ lags + ar.bias))
    future = torch.tensor(window[L:])
    truth = torch.sin(2 * math.pi * torch.arange(4_000, 4_480, dtype=torch.float64) / 48).float()
    assert (future - truth).abs().max() < 0.005


@pytest.mark.parametrize("p", [3, 12, 40])
def test_the_ols_hybrid_is_trained_on_the_steps_whose_lags_are_complete(p):
    """With ``highway_init="ols"`` the loss is the MSE of steps ``p − 1 …`` only (the fitted AR's residuals):
    targets of earlier steps, where the AR reads a padded window, change nothing; the default counts every step."""
    torch.manual_seed(0)
    model = _model("lstm", highway=p, highway_init="ols")
    first = min(p, 12) - 1
    assert model.first_loss_step == first
    context, target, future = torch.randn(4, 12, 1), torch.randn(4, 12), torch.randn(4, 5)
    out = model(context, target, future)
    assert torch.allclose(out.loss, F.mse_loss(model._heads(context)[0][:, first:], target[:, first:]))
    moved = target.clone()
    moved[:, :first] += 5.0
    assert torch.equal(model(context, moved, future).loss, out.loss)
    learned = _model("lstm", highway=p)
    assert learned.first_loss_step == 0  # a learned highway: every step counts
    assert learned(context, moved, future).loss > learned(context, target, future).loss


def test_the_difference_input_reads_changes_so_a_level_shift_changes_nothing_but_the_level():
    """With ``series_input="difference"`` and change prediction, adding a constant to the whole context moves the
    forecast by that constant: the network reads only the changes (a trend beyond the training range stays in it)."""
    model = _model("mlp", series_input="difference", highway=-1)
    torch.nn.init.normal_(model.graph.nodes["ar"].linear.weight, std=0.1)
    context = torch.randn(2, 12, 1) * 2 + 10
    shifted = model.forecast(context + 50.0, 4).point
    assert torch.allclose(shifted, model.forecast(context, 4).point + 50.0, atol=1e-3)
    level = _model("mlp")
    assert not torch.allclose(level.forecast(context + 50.0, 4).point, level.forecast(context, 4).point + 50.0,
                              atol=1e-3)


def test_a_forecaster_saved_before_the_highway_loads_as_it_was(tmp_path):
    """A ``config.json`` written before ``highway`` and ``residual_draw`` existed lacks them: the model loads without
    a highway and with Gaussian noise (what it was), while a new forecaster has a highway by default."""
    import genlab

    old = _model("gru", highway=0, interval_calibration="none")  # as saved before these options
    old.save_pretrained(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    meta = json.loads(path.read_text())
    del meta["config"]["highway"], meta["config"]["residual_draw"], meta["config"]["interval_calibration"]
    path.write_text(json.dumps(meta))
    loaded = genlab.load(tmp_path / "m")
    assert loaded.config.highway == 0 and "ar" not in loaded.graph.nodes
    assert loaded.config.residual_draw == "gaussian" and not hasattr(loaded, "residual_quantiles")
    assert loaded.config.interval_calibration == "none" and not hasattr(loaded, "interval_scale")
    context = torch.randn(2, 12, 1) * 2 + 10
    assert torch.equal(loaded.forecast(context, 3).point, old.forecast(context, 3).point)
    assert _model("gru").config.highway == -1


def test_the_conformal_factor_widens_or_narrows_paths_until_held_out_values_are_covered():
    from genlab.models.forecast.calibration import needed_factor, scale_about_median, spread_scale

    g = torch.Generator().manual_seed(0)
    paths = torch.randn(400, 100, 3, generator=g)  # (N, S, H): the paths claim N(0, 1)
    held_out = torch.ones(400, 3, dtype=torch.bool)
    for true_sd in (0.5, 2.0):  # the values are N(0, true_sd²): the paths are too wide, then too narrow
        truth = true_sd * torch.randn(400, 3, generator=g)
        s = spread_scale(paths, truth, held_out)
        assert s == pytest.approx(true_sd, rel=0.12)
        scaled = scale_about_median(paths, s)
        for level in (0.8, 0.95):  # the scaled paths' intervals cover as they claim
            covered = (needed_factor(scaled, truth, level) <= 1).float().mean()
            assert abs(float(covered) - level) < 0.04
    half = held_out.clone()
    half[:, 1:] = False  # only the first step of each origin is held out: the others do not count
    truth = torch.cat([torch.zeros(400, 1), 50 * torch.ones(400, 2)], 1)
    assert spread_scale(paths, truth, half) < 0.2
    assert spread_scale(paths, truth, torch.zeros_like(held_out)) == 1.0  # too few pairs: left as drawn


def test_the_spread_is_calibrated_on_the_validation_part_and_saved_with_the_model(tmp_path):
    import genlab
    from genlab.data import load

    train_data = load("nile", split="train")
    model = Forecaster.for_data(train_data, {"hidden": 8}).eval()
    model.after_fit(model.prepare(train_data))
    s = float(model.interval_scale)
    context = torch.tensor(train_data.meta["values"][:40], dtype=torch.float32)[None, -20:, None]
    drawn = model.forecast(context, 5, samples=50, generator=torch.Generator().manual_seed(3)).paths
    model.interval_scale.fill_(1.0)
    raw = model.forecast(context, 5, samples=50, generator=torch.Generator().manual_seed(3)).paths
    m = raw.median(1, keepdim=True).values
    assert s != 1.0 and torch.allclose(drawn, m + s * (raw - m), rtol=1e-4, atol=1e-3)
    model.residual_std.mul_(10)  # paths ten times too wide: the calibration narrows them back
    # calibrate again without re-measuring σ̂
    model.interval_scale.fill_(model._calibrated_scale(train_data.meta))
    assert float(model.interval_scale) < s / 3
    model.save_pretrained(tmp_path / "m")
    assert torch.equal(genlab.load(tmp_path / "m").interval_scale, model.interval_scale)
    off = Forecaster.for_data(train_data, {"hidden": 8, "interval_calibration": "none"})
    assert not hasattr(off, "interval_scale")


def test_mid_run_calibrations_are_cheap_and_the_final_one_is_full(tmp_path, monkeypatch):
    from genlab.data import load
    from genlab.models.forecast import forecaster as module
    from genlab.training import TrainConfig, train

    drawn = []  # (origins, paths per origin) of each calibration's sample paths
    sample_paths = Forecaster._sample_paths

    def spy(self, ctx, horizon, exo, samples, generator):
        drawn.append((ctx.shape[0], samples))
        return sample_paths(self, ctx, horizon, exo, samples, generator)

    monkeypatch.setattr(Forecaster, "_sample_paths", spy)
    r = train(TrainConfig(model="forecast-mlp", data="sunspots", epochs=3, seed=0, quiet=True, num_samples=0,
                          out=str(tmp_path / "run"), model_options={"hidden": 8}))
    interim, final = drawn[:-1], drawn[-1]
    assert len(interim) >= 2 and final[1] == module.CALIBRATION_SAMPLES
    assert all(o <= module.INTERIM_CALIBRATION[0] and s == module.INTERIM_CALIBRATION[1] for o, s in interim)
    assert final[0] > module.INTERIM_CALIBRATION[0]  # more origins at the end
    meta = load("sunspots", split="train").meta
    assert float(r.model.interval_scale) == pytest.approx(r.model._calibrated_scale(meta), rel=1e-6)
