"""genlab's forecasters against the statistical baselines on the same origins (issue 26, S1 and N5).

For each series (sunspots, co2, nile, macrodata, seattle-temps) and each forecaster (``forecast-mlp``,
``forecast-rnn``, ``forecast-tcn``, ``forecast-transformer``; the registry's defaults, dropout 0.1) one run is trained
through ``genlab.training.train`` for ``--steps`` optimizer steps (batch 32, Adam 3e-3 decayed by a cosine, one
step ahead on the training part), then forecasts every rolling origin that ``benchmarks/forecast_baselines.py``
scores (``rolling_origins`` over the last 20 %; seattle-temps every 24 hours), feeding its predictions back, with
``--samples`` Monte-Carlo dropout paths (plus the one-step residual noise) for the 80 % and 95 % intervals (their
spread scaled on the validation part with ``"interval_calibration": "validation"`` among the options; the table
prints the factor s). The
figures are those of the baselines (``genlab.metrics.forecast``), read side by side from
``benchmarks/results/forecast_baselines.json`` (run that script first).

Goal (issue 26): the best genlab forecaster's MASE below the best statistical baseline's on at least 3 of the 5
series, and MC-dropout intervals whose coverage is within 5 points of nominal.

``--candidates`` trains each forecaster under each of several named configurations (model options and ``keep``)
and, per series, **chooses one (forecaster, configuration) by its MASE on the validation part's rolling origins**
(the origins whose H-step targets lie in the validation part, between the training and the test parts), then
reports that choice's test figures: the test set chooses nothing. The best of all on the test part is printed
beside it for information only.

    python benchmarks/forecasters.py
    python benchmarks/forecasters.py --series sunspots nile --models forecast-rnn --steps 800
    python benchmarks/forecasters.py --candidates '{"default": {}, "hybrid": {"options": {"highway_init": "ols",
        "series_input": "difference"}, "keep": "best"}}'
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import command_line, cpu_seconds, record, write_results  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.evaluation.forecasting import LEVELS, exogenous_future  # noqa: E402
from genlab.metrics.forecast import forecast_scores, rolling_origins, seasonal_naive_scale  # noqa: E402
from genlab.training.config import TrainConfig  # noqa: E402
from genlab.training.run import train  # noqa: E402

SERIES = ("sunspots", "co2", "nile", "macrodata", "seattle-temps")
MODELS = ("forecast-mlp", "forecast-rnn", "forecast-tcn", "forecast-transformer")
ORIGIN_STEP = {"seattle-temps": 24}  # as the baselines
BASELINES = Path(__file__).resolve().parent / "results" / "forecast_baselines.json"


def baselines() -> dict[str, dict[str, dict]]:
    """``{series: {method: row}}`` of the baselines' last run (MASE in ``value``)."""
    if not BASELINES.is_file():
        raise SystemExit(f"{BASELINES} is missing: run python benchmarks/forecast_baselines.py first")
    out: dict[str, dict[str, dict]] = {}
    for r in json.loads(BASELINES.read_text())["records"]:
        series, _, method = r["name"].partition(": ")
        if r["metric"] == "MASE" and series in SERIES:
            out.setdefault(series, {})[method] = r
    return out


def candidates_of(args: argparse.Namespace) -> dict[str, dict]:
    """``{name: {"options": model options, "keep": "last" | "best"}}``: ``--candidates``, else the one configuration
    of ``--options`` and ``--keep``; ``SystemExit`` for a malformed entry."""
    given = args.candidates or {"": {"options": args.options, "keep": args.keep}}
    out = {}
    for name, c in given.items():
        if not isinstance(c, dict) or set(c) - {"options", "keep"} or c.get("keep", "last") not in ("last", "best"):
            raise SystemExit(f"--candidates: {name!r} must be {{\"options\": {{...}}, \"keep\": \"last\" | \"best\"}}, "
                             f"got {c!r}")
        out[name] = {"options": c.get("options", {}), "keep": c.get("keep", "last")}
    return out


def part_origins(n: int, split_points: tuple[int, int], horizon: int, step: int, part: str) -> list[int]:
    """The rolling origins of the test part (the baselines'), or of the validation part: every origin whose H-step
    target lies between the validation start and the test start."""
    val_start, test_start = split_points
    return rolling_origins(n, test_start, horizon, step) if part == "test" else \
        rolling_origins(test_start, val_start, horizon, step)


@torch.no_grad()
def score(model, series: str, samples: int, seed: int, part: str = "test") -> dict:
    """The forecaster's figures on the baselines' origins (data units), or on the validation part's."""
    meta = load(series, split="test").meta
    values = torch.tensor(meta["values"], dtype=torch.float32)
    n, (val_start, test_start) = len(values), meta["split_points"]
    H, L = model.config.horizon, model.config.context
    origins = part_origins(n, (val_start, test_start), H, ORIGIN_STEP.get(series, 1), part)
    channels = [values[:, None]] + ([torch.tensor(meta["exogenous"], dtype=torch.float32)] if meta["exogenous"] else [])
    full = torch.cat(channels, 1)  # (n, C)
    context = torch.stack([full[o - L:o] for o in origins])  # (N, L, C)
    truth = torch.stack([values[o:o + H] for o in origins])  # (N, H)
    exo = exogenous_future(meta, origins, H)
    g = torch.Generator().manual_seed(seed)
    points, bands = [], {lv: ([], []) for lv in LEVELS}
    for i in range(0, len(origins), 64):
        f = model.forecast(context[i:i + 64], H, samples=samples, generator=g,
                           exogenous=None if exo is None else exo[i:i + 64])
        points.append(f.point)
        for lv in LEVELS:
            lo, hi = f.interval(lv / 100)
            bands[lv][0].append(lo)
            bands[lv][1].append(hi)
    scale = seasonal_naive_scale(values[:val_start], int(meta["period"]))
    s = forecast_scores(truth, torch.cat(points), scale=scale,
                        intervals={lv: (torch.cat(bands[lv][0]), torch.cat(bands[lv][1])) for lv in LEVELS})
    return {**s.row(), "origins": len(origins)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", nargs="+", default=list(SERIES), choices=SERIES)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--samples", type=int, default=100, help="Monte-Carlo dropout paths per origin")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--options", type=json.loads, default={}, help="model options of every forecaster, as JSON "
                   "(e.g. '{\"highway\": -1}')")
    p.add_argument("--keep", choices=("last", "best"), default="last",
                   help="score the last step's weights, or those of the best validation loss (early stopping)")
    p.add_argument("--candidates", type=json.loads, default=None,
                   help="named configurations, JSON {name: {\"options\": {...}, \"keep\": \"last\" | \"best\"}}: "
                        "each series' forecaster and configuration chosen by validation MASE (overrides --options, "
                        "--keep)")
    p.add_argument("--name", default="forecasters")
    args = p.parse_args()
    candidates = candidates_of(args)
    torch.set_num_threads(args.threads)
    base = baselines()
    choosing = len(candidates) > 1
    rows, lines, wins, coverage_ok, chosen = [], [], 0, [], []
    lines += ["| series | method | MASE | MAE | sMAPE % | coverage 80 % | coverage 95 % | width 95 % | spread s "
              "| CPU-min" + (" | validation MASE |" if choosing else " |"),
              "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if choosing else "")]
    with tempfile.TemporaryDirectory() as tmp:
        for series in args.series:
            ours = {}
            for cname, cand in candidates.items():
                for m in args.models:
                    label = f"{m} [{cname}]" if cname else m
                    t0, c0 = time.perf_counter(), cpu_seconds()
                    cfg = TrainConfig(model=m, data=series, epochs=-1, max_steps=args.steps, lr_schedule="cosine",
                                      seed=args.seed, quiet=True, out=str(Path(tmp) / f"{series}-{m}-{cname}"),
                                      model_options=cand["options"], keep=cand["keep"])
                    result = train(cfg)
                    r = {**score(result.model, series, args.samples, args.seed),
                         "cpu": cpu_seconds() - c0, "seconds": time.perf_counter() - t0,
                         "spread_scale": float(getattr(result.model, "interval_scale", 1.0))}
                    if choosing:
                        r["val_mase"] = score(result.model, series, args.samples, args.seed, part="val")["mase"]
                    ours[label] = r
                    print(f"{series:13s} {label:30s} MASE {r['mase']:.3f}  coverage80 {r['coverage80']:.2f}  "
                          f"coverage95 {r['coverage95']:.2f}  s {r['spread_scale']:.3g}  ({r['cpu'] / 60:.1f} CPU-min)"
                          + (f"  validation MASE {r['val_mase']:.3f}" if choosing else ""), flush=True)
            best_ours = min(ours, key=lambda k: ours[k]["val_mase" if choosing else "mase"])
            theirs = base.get(series, {})
            best_theirs = min(theirs, key=lambda k: theirs[k]["value"]) if theirs else None
            for m, r in ours.items():
                lines.append(f"| {series} | genlab {m}{' (chosen)' if choosing and m == best_ours else ''} | "
                             f"{r['mase']:.3f} | {r['mae']:.4g} | {r['smape']:.1f} | "
                             f"{100 * r['coverage80']:.1f} | {100 * r['coverage95']:.1f} | {r['width95']:.4g} | "
                             f"{r['spread_scale']:.3g} | {r['cpu'] / 60:.1f} |"
                             + (f" {r['val_mase']:.3f} |" if choosing else ""))
                rows.append(record(f"{series}: genlab {m}", "MASE", r["mase"], "",
                                   reference=theirs[best_theirs]["value"] if best_theirs else None,
                                   chosen=choosing and m == best_ours,
                                   **{k: v for k, v in r.items() if k != "mase"}))
            oracle = min(ours, key=lambda k: ours[k]["mase"])
            chosen.append(f"{series}: {best_ours} (test MASE {ours[best_ours]['mase']:.3f}; the best on test: {oracle},"
                          f" {ours[oracle]['mase']:.3f})")
            for method, r in theirs.items():
                lines.append(f"| {series} | {method} | {r['value']:.3f} | {r['mae']:.4g} | {r['smape']:.1f} | "
                             f"{100 * r['coverage80']:.1f} | {100 * r['coverage95']:.1f} | {r['width95']:.4g} | | |")
            if best_theirs and ours[best_ours]["mase"] < theirs[best_theirs]["value"]:
                wins += 1
            b = ours[best_ours]
            coverage_ok.append((series, best_ours, abs(100 * b["coverage80"] - 80) <= 5
                                and abs(100 * b["coverage95"] - 95) <= 5))
    what = "genlab forecaster chosen on validation MASE" if choosing else "Best genlab forecaster"
    verdict = [f"{what} below the best baseline's MASE on {wins} of {len(args.series)} series (goal: 3 of 5).",
               f"MC-dropout intervals of each series' {'chosen' if choosing else 'best'} forecaster within 5 points of "
               "nominal (80 %, 95 %): "
               + ", ".join(f"{s} ({m}) {'yes' if ok else 'no'}" for s, m, ok in coverage_ok) + "."]
    if choosing:
        verdict.append("Chosen on validation (for information, not the goal's figure: the best on test): "
                       + "; ".join(chosen) + ".")
    notes = "\n".join(lines + [""] + verdict)
    print(notes)
    write_results(args.name, rows, command_line(), notes=notes)


if __name__ == "__main__":
    main()
