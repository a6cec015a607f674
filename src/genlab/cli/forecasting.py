"""``genlab forecast RUN``: a forecaster's forecast of its series, printed and plotted (S1, N5).

From an origin in the series (by default its end), the model reads the ``context`` steps before it and forecasts
``--horizon`` steps with ``--samples`` Monte-Carlo dropout paths: each step's forecast, 80 % and 95 % intervals and
the truth where the series has it are printed, and the history, forecast, bands and truth drawn (the model's
renderer, ``models.forecast.render``). Imports stay lazy (``genlab --help`` imports no torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.app import app, friendly, load_run_model


@app.command()
@friendly
def forecast(
    run: Annotated[Path, typer.Argument(help="a forecaster's run folder (genlab train forecast-rnn ...)")],
    horizon: Annotated[int | None, typer.Option(help="steps to forecast", show_default="the run's horizon")] = None,
    origin: Annotated[int | None, typer.Option(
        help="index of the first forecast step in the series (negative: from its end); the truth is drawn where "
             "the series has it", show_default="the end of the series")] = None,
    samples: Annotated[int, typer.Option(help="Monte-Carlo dropout paths for the 80 % and 95 % intervals (0: none)")]
    = 200,
    seed: Annotated[int, typer.Option()] = 0,
    out: Annotated[Path | None, typer.Option(help="the picture (.png, .svg, .pdf) or the numbers (.csv)",
                                             show_default="RUN/samples/forecast-<time>.png")] = None,
) -> None:
    """Forecast a run's series: print the forecast with its intervals (and the truth, when known) and plot the
    history, the forecast, the interval bands and the truth."""
    import torch

    from genlab.data import load
    from genlab.errors import ConfigError
    from genlab.evaluation.forecasting import exogenous_future
    from genlab.models.base import Forecasts
    from genlab.render import caption
    from genlab.rundir import RunDir

    model = load_run_model(run)
    if not isinstance(model, Forecasts):
        raise ConfigError(f"{run} holds {type(model).__name__}, which does not forecast: pass a forecaster's run "
                          f"(forecast-mlp, forecast-rnn, forecast-tcn, forecast-transformer)")
    folder = RunDir(run)
    meta = load(folder.dataset(None), split="test", **folder.data_options()).meta
    values = torch.tensor(meta["values"], dtype=torch.float32)  # (n,)
    n, L, H = len(values), model.config.context, model.config.horizon if horizon is None else horizon
    o = n if origin is None else (origin + n if origin < 0 else origin)
    if not L <= o <= n:
        raise ConfigError(f"--origin must leave {L} steps of context before it and lie in the series: from {L} to "
                          f"{n} (or {L - n} to 0 from its end), got {origin}")
    if H < 1:
        raise ConfigError(f"--horizon must be ≥ 1, got {H}")
    if samples < 0:
        raise ConfigError(f"--samples must be ≥ 0 (0: no intervals), got {samples}")
    channels = [values[:, None]]
    if meta.get("exogenous"):
        if o + H > n:
            raise ConfigError(f"this series has exogenous channels ({', '.join(meta['channels'][1:])}), known only "
                              f"inside it: choose --origin ≤ {n - H} or a shorter --horizon")
        channels.append(torch.tensor(meta["exogenous"], dtype=torch.float32))
    series = torch.cat(channels, 1)  # (n, C)
    exo = exogenous_future(meta, [o], H)
    f = model.forecast(series[None, o - L:o], H, exogenous=exo, samples=samples,
                       generator=torch.Generator().manual_seed(seed))
    fields = {"history": values[max(0, o - 4 * L):o], "point": f.point[0]}
    known = min(H, n - o)
    if known == H:
        fields["truth"] = values[o:o + H]
    for level in (80, 95) if samples else ():
        lo, hi = f.interval(level / 100)
        fields[f"lo{level}"], fields[f"hi{level}"] = lo[0], hi[0]
    time = meta.get("time") or []

    def label(i: int) -> str:  # the series' own time label, "+k" past its end
        return str(time[i]) if i < len(time) else f"+{i - n + 1}"

    typer.echo(f"{'time':>12}  {'forecast':>10}" + ("  80 % interval        95 % interval" if samples else "")
               + ("  truth" if known else ""))
    for h in range(H):
        row = f"{label(o + h):>12}  {float(f.point[0, h]):>10.4g}"
        if samples:
            row += "".join(f"  [{float(fields[f'lo{lv}'][h]):>8.4g}, {float(fields[f'hi{lv}'][h]):>8.4g}]"
                           for lv in (80, 95))
        if o + h < n:
            row += f"  {float(values[o + h]):.4g}"
        typer.echo(row)
    renderer = model.renderer()
    target = renderer.check(out) if out is not None else folder.new_samples(suffix=renderer.suffix)
    if known != H:
        fields.pop("truth", None)
    x0 = max(0, o - 4 * L)
    written = renderer.write({**fields, "history_time": list(range(x0 - o, 0)), "time": list(range(H))}, target,
                             title=caption(folder, type(model).__name__, f"origin {label(o) if o < n else 'end'}"
                                           f", {samples} paths"))
    typer.echo(f"→ {written}")
