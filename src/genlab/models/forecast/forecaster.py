"""S1 autoregressive forecasters: trained one step ahead on targets shifted by one, forecasting by feeding their
predictions back; direct multi-horizon output as an option; Monte-Carlo dropout intervals (N5).

The network is an S3 graph (``genlab.blocks.graph``) of named inputs: the ``series`` ``(B, L, 1)`` and, when the
data has them, its ``exogenous`` channels ``(B, L, E)`` (calendar features, other macro series) each pass a branch
(a linear map per step), their features are concatenated and read by a causal body (``bodies``: an AR-MLP, an
LSTM/GRU, a TCN, a transformer), whose per-step features feed two heads:

    step:   ŷ_{t+1} = y_t + w_sᵀ h_t + b_s [+ Σ_{i<p} a_i y_{t−i}]    trained on ``target`` (the series shifted by
            one), MSE, every step; the bracket is the optional linear highway (``highway=p``, LSTNet's)
    direct: (ŷ_{o}, …, ŷ_{o+H−1}) = y_{o−1} + W_d h_{L−1} + b_d    trained on ``future`` (``output="direct"``)

(``predict="change"``, the default: the heads give changes, so a trend beyond the training part's range stays in
reach; ``predict="level"``: without the ``y_t`` term.)

Values are standardized by the series' ``SeriesScaler`` (fitted on the training part, saved with the model).
``forecast`` (data units in and out): with ``output="step"`` the window slides: ``ŷ`` of the last step is appended
(with the exogenous values of that step, which must be given) and the first dropped, H times (S1); a recurrent body
instead carries its state from the context on, one step per fed-back value (it reads every value so far). With
``samples`` S > 0, S sample paths: dropout kept on (N5) and, by default, each fed-back value perturbed by the
one-step residual noise ``ε ~ N(0, σ̂²)`` (``σ̂`` measured on the held-out validation part after training, as
Zhu & Laptev 2017 estimate the noise of an MC-dropout forecaster), so the paths
carry both the model's and the data's uncertainty; intervals are the paths' quantiles. ``residual_draw=
"bootstrap"`` draws ``ε`` from the centred validation residuals themselves (through ``RESIDUAL_QUANTILES`` of
them, interpolated: Efron's residual bootstrap, as Hyndman & Athanasopoulos's bootstrapped intervals): a
heavy-tailed noise keeps its narrow centre and its tails. Then, by default (``interval_calibration=
"validation"``), the paths are scaled about their median by one factor fitted on the validation part's forecasts
(split conformal: ``models.forecast.calibration``): on the five shipped series, 9 of 30 (series, forecaster,
configuration) runs had test intervals within 5 points of nominal at both 80 % and 95 %, against 5 of 30 as drawn;
it narrowed sunspots' intervals, whose test part is stormier than its validation part (benchmarks/RESULTS.md,
``forecasters_calibrated`` against ``forecasters_level_hybrid``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.blocks.graph import Graph, node
from genlab.config import Config, require
from genlab.errors import ConfigError
from genlab.models.base import Forecasts, Model, ModelOutput
from genlab.models.forecast.bodies import AttentionBody, ConvBody, Highway, LagMLP, RecurrentBody
from genlab.models.forecast.calibration import scale_about_median, spread_scale
from genlab.preprocessing_series import SeriesScaler


@dataclasses.dataclass
class ForecasterConfig(Config):
    #: what forecasters saved before these options had: no highway, Gaussian residual noise
    introduced: ClassVar[dict[str, Any]] = {"highway": 0, "residual_draw": "gaussian", "interval_calibration": "none"}
    preprocessing: dict = dataclasses.field(default_factory=dict)  # the fitted SeriesScaler's spec (channels)
    channels: int = 1  # C: the series, then E exogenous channels (from the data)
    context: int = 30  # L: steps the model reads (from the data)
    horizon: int = 20  # H: steps of the direct head (from the data)
    body: Literal["mlp", "lstm", "gru", "tcn", "transformer"] = "lstm"  # the causal body (models.forecast.bodies)
    output: Literal["step", "direct"] = "step"  # S1 one step fed back, or H steps at once
    predict: Literal["change", "level"] = "change"  # the heads give y_{t+1} − y_t (added to y_t), or y_{t+1} itself
    hidden: int = 64  # width of the body
    layers: int = 2  # depth of the body
    dropout: float = 0.1  # in the body: Monte-Carlo dropout's randomness (N5)
    series_width: int = 16  # features of the series branch (S3)
    exogenous_width: int = 8  # features of the exogenous branch (S3)
    lags: int = 0  # mlp: the steps each prediction reads (0: the whole context)
    kernel_size: int = 3  # tcn
    heads: int = 4  # transformer
    residual_noise: bool = True  # sample paths add the one-step residual noise to each fed-back value
    residual_draw: Literal["gaussian", "bootstrap"] = "gaussian"  # that noise: N(0, σ̂²), or the residuals' own law
    highway: int = -1  # p of a linear AR on the series' last p values added to the step head (LSTNet); -1: the context
    series_input: Literal["level", "difference"] = "level"  # what the series branch and the highway read
    highway_init: Literal["zero", "ols"] = "zero"  # ols: the least-squares AR of the training windows, kept fixed
    # validation: the paths' spread scaled about their median so that their 80 / 95 % intervals cover the
    # validation part's values (split conformal, models.forecast.calibration); none: left as drawn
    interval_calibration: Literal["validation", "none"] = "validation"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.channels >= 1, f"channels must be ≥ 1, got {self.channels}")
        require(self.context >= 2, f"context must be ≥ 2 steps, got {self.context}")
        require(self.horizon >= 1, f"horizon must be ≥ 1 step, got {self.horizon}")
        require(self.hidden >= 1 and self.layers >= 1, "hidden and layers must be ≥ 1")
        require(self.highway >= -1, f"highway must be an order p ≥ 1, 0 (none) or -1 (the context), got {self.highway}")
        require(self.highway_init == "zero" or self.highway != 0,
                "highway_init=ols fits the highway: give it an order (highway=-1 for the context, or p ≥ 1)")
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        require(self.body != "transformer" or self.hidden % self.heads == 0,
                f"the transformer's hidden ({self.hidden}) must be a multiple of heads ({self.heads})")


@dataclasses.dataclass
class ForecastOutput(ModelOutput):
    mae: Tensor | None = None  # standardized units


@dataclasses.dataclass
class Forecast:
    """``point`` ``(B, H)`` and, when sampled, ``paths`` ``(B, S, H)``, both in data units."""

    point: Tensor
    paths: Tensor | None = None

    def interval(self, level: float) -> tuple[Tensor, Tensor]:
        """The central ``level`` (0.8, 0.95) interval of the paths, ``(B, H)`` each: their quantiles."""
        if self.paths is None:
            raise ConfigError("a prediction interval needs sample paths: forecast(..., samples=100)")
        lo, hi = (1 - level) / 2, (1 + level) / 2
        q = torch.quantile(self.paths.float(), torch.tensor([lo, hi]), dim=1)  # (2, B, H)
        return q[0], q[1]


MIN_RESIDUALS = 5  # validation steps needed to measure σ̂ on them
RESIDUAL_QUANTILES = 201  # quantiles of the centred residuals kept for residual_draw="bootstrap"
CALIBRATION_ORIGINS = 64  # validation origins (evenly spaced) whose paths calibrate the spread
CALIBRATION_SAMPLES = 100  # paths per origin there (as the evaluation draws)
INTERIM_CALIBRATION = (16, 25)  # (origins, paths) of the calibration after a validation mid-run: 1/16 of the cost


class _Branch(nn.Module):
    """A per-step linear map of one named input: ``(B, L, d_in) → (B, L, width)``."""

    def __init__(self, d_in: int, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)


class _Last(nn.Module):
    """The direct head: ``W_d h_{L−1} + b_d`` → ``(B, H)``."""

    def __init__(self, d: int, horizon: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d, horizon)

    def forward(self, h: Tensor) -> Tensor:
        return self.linear(h[:, -1])


class Forecaster(Model, Forecasts):
    """Reads ``context`` ``(B, L, C)``; learns ``target`` (one step ahead) or ``future`` (direct)."""

    config_class = ForecasterConfig
    inputs = ("context", "target", "future")
    optional_inputs = ()
    kinds = ("series",)
    preprocessor_class = SeriesScaler
    monitor = "val/loss"

    def __init__(self, config: ForecasterConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        E = c.channels - 1
        d_in = c.series_width + (c.exogenous_width if E else 0)
        body = {"mlp": lambda: LagMLP(d_in, c.hidden, c.layers, c.lags or c.context, c.dropout),
                "lstm": lambda: RecurrentBody(d_in, c.hidden, c.layers, c.dropout, "lstm"),
                "gru": lambda: RecurrentBody(d_in, c.hidden, c.layers, c.dropout, "gru"),
                "tcn": lambda: ConvBody(d_in, c.hidden, c.layers, c.dropout, c.kernel_size),
                "transformer": lambda: AttentionBody(d_in, c.hidden, c.layers, c.dropout, c.heads, c.context)}[c.body]()
        branches = [node("s", _Branch(1, c.series_width), "series")]
        if E:
            branches.append(node("e", _Branch(E, c.exogenous_width), "exogenous"))
        heads = [node("step", nn.Linear(body.out_dim, 1), "h"), node("direct", _Last(body.out_dim, c.horizon), "h")]
        highway = [node("ar", Highway(self.highway_order), "series")] if self.highway_order else []
        if highway and c.highway_init == "ols":  # fitted before training (before_fit), then fixed
            highway[0].module.requires_grad_(False)
        self.graph = Graph(inputs=("series", "exogenous") if E else ("series",),
                           nodes=[*branches, node("h", body, *(n.name for n in branches)), *heads, *highway],
                           outputs=("step", "direct", *(n.name for n in highway)))
        self.register_buffer("residual_std", torch.ones(()))  # σ̂ of the one-step residuals (standardized units)
        if c.residual_draw == "bootstrap":  # their centred law, as quantiles at 0, 1/(Q−1), …, 1 (standardized)
            self.register_buffer("residual_quantiles", torch.zeros(RESIDUAL_QUANTILES))
        if c.interval_calibration == "validation":  # s of models.forecast.calibration, fitted by after_fit
            self.register_buffer("interval_scale", torch.ones(()))

    @property
    def highway_order(self) -> int:
        """p of the linear highway (0: none)."""
        return self.config.context if self.config.highway == -1 else self.config.highway

    @classmethod
    def data_defaults(cls, data) -> dict[str, Any]:
        meta = data.meta
        if not {"channels", "context", "horizon"} <= set(meta):
            raise ConfigError(f"{cls.__name__} forecasts a time series: train it on one (--data sunspots, co2, "
                              f"nile, macrodata, seattle-temps, series-csv)")
        return {"channels": len(meta["channels"]), "context": int(meta["context"]), "horizon": int(meta["horizon"])}

    # --- the network ----------------------------------------------------------------------------
    def _inputs(self, rows: Tensor) -> dict[str, Tensor]:
        """The graph's named inputs from standardized rows ``(B, T, C)``: the ``series`` ``(B, T, 1)`` as levels or,
        with ``series_input="difference"``, as ``y_t − y_{t−1}`` (0 at the first row: windows are read on their
        own), and the ``exogenous`` channels ``(B, T, E)``."""
        series = rows[..., :1]
        if self.config.series_input == "difference":
            series = torch.cat([torch.zeros_like(series[:, :1]), series[:, 1:] - series[:, :-1]], 1)
        return {"series": series, **({"exogenous": rows[..., 1:]} if self.config.channels > 1 else {})}

    def _heads(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """Standardized ``context`` ``(B, L, C)`` → one-step predictions ``(B, L)`` and direct ones ``(B, H)``."""
        out = self.graph(**self._inputs(context))
        if "ar" in out:  # the linear highway joins the step head
            out["step"] = out["step"] + out["ar"]
        if self.config.predict == "level":
            return out["step"][..., 0], out["direct"]
        # changes: each prediction is the last value plus the head's change (a trend the training part never
        # reached stays in reach: the network models increments, which stay in its range)
        return context[..., 0] + out["step"][..., 0], context[:, -1:, 0] + out["direct"]

    @property
    def first_loss_step(self) -> int:
        """The first window step whose one-step prediction the loss counts: 0, or with ``highway_init="ols"``
        ``p − 1``, the first whose ``p`` lags all lie in the window. The fixed AR was fitted on complete lags, so
        Zhang's residuals are defined there only; on the earlier, padded steps the AR is nearly blind and the body
        would learn to predict the whole change itself, then add it to the AR's at the last step, where forecasts
        are made (seattle-temps, MLP / RNN hybrids: test MASE 2.13 / 1.30 with every step, 0.49 / 0.50 with the
        complete ones; ``benchmarks/RESULTS.md``, ``forecasters_ols_complete_steps``)."""
        return min(self.highway_order, self.config.context) - 1 if self.config.highway_init == "ols" else 0

    def forward(self, context: Tensor, target: Tensor, future: Tensor) -> ForecastOutput:
        """MSE of the one-step predictions against ``target`` from ``first_loss_step`` on (or of the direct ones
        against ``future``)."""
        step, direct = self._heads(context)
        first = self.first_loss_step
        pred, truth = (step[:, first:], target[:, first:]) if self.config.output == "step" else (direct, future)
        return ForecastOutput(F.mse_loss(pred, truth), mae=(pred - truth).abs().mean().detach())

    @torch.no_grad()
    def before_fit(self, data) -> None:
        """``highway_init="ols"``, the hybrid of Zhang (2003, Neurocomputing 50): the highway is the least-squares
        autoregression of order p on the training windows' last steps (in the step head's units: the change, or the
        level), kept fixed, and the step head starts at zero: the model begins as that linear AR and the body learns
        only what it misses (on the steps from ``first_loss_step``, where the AR's lags are complete).

        Unregularized (the minimum-norm solution where the lags are collinear or the windows fewer than p + 1): the
        lags of a smooth series are nearly collinear, and a ridge of even 1e-3 of the mean squared lag moved the
        roots enough to spoil forecasts fed back over a day (seattle-temps, AR(168) on levels, no training: test
        MASE 0.613 with it, 0.462 without; statsmodels' AutoReg of that order 0.461)."""
        p = self.highway_order
        if not p or self.config.highway_init != "ols":
            return
        context, target = data.fields["context"].float(), data.fields["target"][:, -1].float()  # (N, L, C), (N,)
        lags = self._inputs(context)["series"][:, -p:, 0]  # (N, p): the last p steps of what the highway reads
        context = context[..., 0]
        y = target - context[:, -1] if self.config.predict == "change" else target  # (N,)
        X = torch.cat([lags, torch.ones(len(lags), 1)], 1).double()  # (N, p + 1)
        w = torch.linalg.lstsq(X, y.double()[:, None], driver="gelsd").solution[:, 0].float()  # (p + 1,)
        linear = self.graph.nodes["ar"].linear
        linear.weight.copy_(w[None, :p])
        linear.bias.fill_(float(w[p]))
        for param in self.graph.nodes["step"].parameters():
            param.zero_()

    @torch.no_grad()
    def after_fit(self, data, *, final: bool = True) -> None:
        """``σ̂``: the standard deviation of the one-step residuals on the series' validation part (held out: the
        data's ``meta`` holds the whole series), at least ``MIN_RESIDUALS`` of them; else on the training windows.
        Then ``s``, the paths' spread calibrated there; mid-run (``final=False``) on ``INTERIM_CALIBRATION``'s fewer
        origins and paths (the sample paths are most of a training run's time otherwise)."""
        was = self.training
        self.eval()
        try:
            context, truth = self._validation_steps(data.meta)
            if len(truth) < MIN_RESIDUALS:
                n = min(len(data), 2000)
                context, truth = data.fields["context"][:n], data.fields["target"][:n, -1]
            step, _ = self._heads(context.to(self.device))
            residual = step[:, -1] - truth.to(self.device)
            self.residual_std.fill_(float(residual.std()) if len(residual) > 1 else 1.0)
            if self.config.residual_draw == "bootstrap":
                levels = torch.linspace(0, 1, RESIDUAL_QUANTILES, device=residual.device)
                self.residual_quantiles.copy_(torch.quantile(residual.float() - residual.float().mean(), levels))
            if self.config.interval_calibration == "validation":
                size = (CALIBRATION_ORIGINS, CALIBRATION_SAMPLES) if final else INTERIM_CALIBRATION
                self.interval_scale.fill_(self._calibrated_scale(data.meta, *size))
        finally:
            self.train(was)

    def _standardized_series(self, meta: dict) -> Tensor | None:
        """The whole series and its exogenous channels ``(n, C)``, standardized; None when ``meta`` lacks them."""
        if not {"values", "split_points"} <= set(meta):
            return None
        full = torch.tensor(meta["values"], dtype=torch.float32)[:, None]  # (n, 1)
        if meta.get("exogenous"):
            full = torch.cat([full, torch.tensor(meta["exogenous"], dtype=torch.float32)], 1)  # (n, C)
        return ((full.to(self.device) - self.preprocessor.mean) / self.preprocessor.std).float()

    @torch.no_grad()
    def _calibrated_scale(self, meta: dict, origins: int = CALIBRATION_ORIGINS, samples: int = CALIBRATION_SAMPLES
                          ) -> float:
        """``s`` (``models.forecast.calibration``) from ``samples`` paths of each of up to ``origins`` validation
        origins (evenly spaced), scored on the steps that lie in the validation part (an origin near its end scores
        its first steps only); 1.0 when the part holds too few of them."""
        full = self._standardized_series(meta)
        if full is None:
            return 1.0
        L, H = self.config.context, self.config.horizon
        val_start, test_start = (int(v) for v in meta["split_points"])
        first = max(val_start, L)
        if test_start <= first or first + H > len(full):
            return 1.0
        last = min(test_start, len(full) - H + 1)  # origins o in [first, last): their H steps exist
        at = torch.linspace(first, last - 1, min(origins, last - first)).round().long().unique()  # (N,)
        context = torch.stack([full[o - L:o] for o in at])  # (N, L, C)
        ahead = torch.stack([full[o:o + H] for o in at])  # (N, H, C)
        exo = ahead[..., 1:] if self.config.channels > 1 else None
        paths = self._sample_paths(context, H, exo, samples, torch.Generator().manual_seed(0))
        held_out = (at[:, None] + torch.arange(H)) < test_start  # (N, H)
        return spread_scale(paths.cpu(), ahead[..., 0].cpu(), held_out)

    def _validation_steps(self, meta: dict) -> tuple[Tensor, Tensor]:
        """Standardized contexts ``(N, L, C)`` and next values ``(N,)`` of every step of the validation part."""
        full = self._standardized_series(meta)
        if full is None:
            return torch.zeros(0, self.config.context, self.config.channels), torch.zeros(0)
        L = self.config.context
        origins = range(max(int(meta["split_points"][0]), L), int(meta["split_points"][1]))
        if not origins:
            return torch.zeros(0, L, self.config.channels), torch.zeros(0)
        return torch.stack([full[o - L:o] for o in origins]), full[list(origins), 0]

    # --- forecasting ----------------------------------------------------------------------------
    def _path(self, ctx: Tensor, horizon: int, exo: Tensor | None, noise=None) -> Tensor:
        """Standardized: ``horizon`` values after ``ctx`` ``(B, L, C)`` → ``(B, H)``; ``exo`` ``(B, H, E)``;
        ``noise(n)``: ``n`` draws added to each fed-back value (``None``: the point forecast)."""
        c = self.config
        if c.output == "direct":
            if horizon > c.horizon:
                raise ConfigError(f"this model predicts {c.horizon} steps at once (output=direct): ask for a "
                                  f"horizon ≤ {c.horizon}, or train it with --set model.output=step")
            return self._heads(ctx[:, -c.context:])[1][:, :horizon]
        nodes = self.graph.nodes
        body, head = nodes["h"], nodes["step"]
        recurrent = isinstance(body, RecurrentBody)

        def features(inputs: dict[str, Tensor]) -> Tensor:  # the graph's inputs → the branches' features (B, T, d_in)
            parts = [nodes["s"](inputs["series"])] + ([nodes["e"](inputs["exogenous"])] if "e" in nodes else [])
            return torch.cat(parts, -1)  # side by side, S3

        # the rows read so far (B, T, C): the window slides; a recurrent body's state carries every value since the
        # context's, so its rows grow (one step of the body per fed-back value)
        rows = ctx[:, -c.context:]
        last = ctx[:, -1, 0] if c.predict == "change" else torch.zeros_like(ctx[:, -1, 0])  # (B,) y_t (or 0)
        p = self.highway_order
        if recurrent:
            h, state = body(features(self._inputs(rows)), with_state=True)
            h = h[:, -1]
        out = []
        for step in range(horizon):
            # what the graph reads of the rows: the whole window for a sliding body, the last p + 1 rows (p
            # differences) for the highway of a recurrent one
            inputs = self._inputs(rows if not recurrent else rows[:, -(p + 1):]) if p or not recurrent else None
            if not recurrent:
                window = features(inputs)  # (B, L, d_in)
                if isinstance(body, LagMLP):
                    h = body.last(window)  # (B, F)
                elif isinstance(body, ConvBody):  # the last step sees its receptive field only: no need for more
                    h = body(window[:, -body.tcn.receptive_field():])[:, -1]
                else:
                    h = body(window)[:, -1]
            y = last + head(h)[:, 0]  # (B,) ŷ of the next step
            if p:
                y = y + nodes["ar"].last(inputs["series"][..., 0])
            if noise is not None:
                y = y + noise(len(y))
            out.append(y)
            if c.predict == "change":
                last = y
            if step == horizon - 1:
                break
            new = y[:, None, None] if exo is None else torch.cat([y[:, None, None], exo[:, step:step + 1]], -1)
            rows = torch.cat([rows if recurrent else rows[:, 1:], new], 1)  # S1: the prediction fed back
            if recurrent:
                h, state = body(features(self._inputs(rows[:, -2:]))[:, -1:], state, with_state=True)  # the new step
                h = h[:, -1]
        return torch.stack(out, 1)

    @torch.no_grad()
    def forecast(self, context: Tensor, horizon: int, *, exogenous: Tensor | None = None, samples: int = 0,
                 generator: torch.Generator | None = None) -> Forecast:
        c = self.config
        if context.dim() != 3 or context.shape[-1] != c.channels:
            raise ConfigError(f"context must be (B, L, {c.channels}) (the series, then its exogenous channels), "
                              f"got {tuple(context.shape)}")
        if context.shape[1] < c.context:
            raise ConfigError(f"context holds {context.shape[1]} steps; this model reads the last {c.context}")
        if horizon < 1:
            raise ConfigError(f"horizon must be ≥ 1 step, got {horizon}")
        E = c.channels - 1
        if E and (exogenous is None or exogenous.shape[:2] != (context.shape[0], horizon) or exogenous.shape[-1] != E):
            raise ConfigError(f"this model reads {E} exogenous channel(s) ({', '.join(self.preprocessor.channels[1:])})"
                              f": give their values over the horizon, exogenous (B, {horizon}, {E})")
        scaler = self.preprocessor
        ctx = ((context.to(self.device) - scaler.mean) / scaler.std).float()
        exo = ((exogenous.to(self.device) - scaler.mean[1:]) / scaler.std[1:]).float() if E else None
        was = self.training
        self.eval()
        try:
            point = scaler.unscale(self._path(ctx, horizon, exo))
            paths = None
            if samples > 0:
                paths = self._sample_paths(ctx, horizon, exo, samples, generator)  # (B, S, H) standardized
                if self.config.interval_calibration == "validation":
                    paths = scale_about_median(paths, float(self.interval_scale))
                paths = scaler.unscale(paths)
        finally:
            self.train(was)
        return Forecast(point, paths)

    def _sample_paths(self, ctx: Tensor, horizon: int, exo: Tensor | None, samples: int,
                      generator: torch.Generator | None) -> Tensor:
        """``samples`` paths per context, dropout on (N5), residual noise fed back → ``(B, S, H)`` standardized."""
        B = ctx.shape[0]
        seed = int(torch.randint(2**62, (), generator=generator)) if generator is not None else None
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            for m in self.modules():
                if isinstance(m, nn.Dropout):
                    m.train()
            noise = self._residual_noise() if self.config.residual_noise and self.config.output == "step" else None
            rep = ctx.repeat_interleave(samples, 0)  # (B·S, L, C)
            paths = self._path(rep, horizon, None if exo is None else exo.repeat_interleave(samples, 0), noise)
        return paths.view(B, samples, horizon)

    def _residual_noise(self):
        """``n ↦ n`` draws of the one-step noise ``ε`` (standardized): ``σ̂ · N(0, 1)``, or (bootstrap) the
        residuals' quantile function at ``u ~ U(0, 1)``, linearly interpolated."""
        if self.config.residual_draw == "gaussian":
            return lambda n: float(self.residual_std) * torch.randn(n, device=self.device)
        q = self.residual_quantiles  # (Q,)

        def draw(n: int) -> Tensor:
            at = torch.rand(n, device=self.device) * (len(q) - 1)  # (n,) positions among the quantiles
            below = at.floor().long().clamp_max(len(q) - 2)
            return torch.lerp(q[below], q[below + 1], at - below)

        return draw

    def renderer(self):
        from genlab.models.forecast.render import ForecastPlot

        return ForecastPlot.of(self)
