"""What `genlab list`, `genlab compare` and the gallery show of a run folder, read from its files only (no torch).

At its end a run writes ``summary.json`` (``write_summary``): iterations, training time, final validation metrics,
and what its model declares — the validation metric it monitors, its default evaluation metric(s) and its curve
panels — so that reading a run later needs no model class. A run without one (unfinished, or from an older genlab)
is read from ``config.yaml``, ``metrics.csv`` and ``model/progress.json``.

The **headline** of a run is its model's declared score: the default evaluation metric in ``eval.json`` (test split,
written by ``genlab eval``) when there is one, else the validation metric it monitors (``val/loss``, pix2pix's
``val/g_l1``), else its last validation loss.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from genlab.atomic import atomic_write_text
from genlab.panels import Panel, guess
from genlab.rundir import RunDir

SUMMARY = "summary.json"


@dataclasses.dataclass
class RunInfo:
    path: Path
    model: str
    data: str
    iterations: int | None
    seconds: float | None  # training time over every segment; None when unknown (an unfinished run)
    finished: bool
    metrics: dict[str, float]  # final validation metrics (val/...), then test evaluations (test/...)
    headline: tuple[str, float] | None  # (name, value)
    panels: tuple[Panel, ...]


def write_summary(run: RunDir, *, model_name: str, data: str, iterations: int, seconds: float,
                  metrics: dict[str, float], monitor: str | None, default_metric: list[str],
                  panels: tuple[Panel, ...]) -> Path:
    """``<run>/summary.json`` at the end of a run (atomically)."""
    summary = {"model": model_name, "data": data, "iterations": iterations, "seconds": round(seconds, 3),
               "metrics": {k: float(v) for k, v in sorted(metrics.items())}, "monitor": monitor,
               "default_metric": list(default_metric), "panels": [p.to_list() for p in panels]}
    return atomic_write_text(run.path / SUMMARY, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")


def find_runs(root: str | Path) -> list[Path]:
    """The run folders under ``root`` (each holds a ``config.yaml``), sorted by name; ``root`` itself if it is one."""
    root = Path(root)
    if (root / "config.yaml").is_file():
        return [root]
    return sorted(p.parent for p in root.glob("*/config.yaml")) if root.is_dir() else []


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def last_values(rows: list[dict[str, float]], prefix: str = "val/") -> dict[str, float]:
    """The last value of each ``prefix`` column of ``metrics.csv`` rows."""
    out: dict[str, float] = {}
    for r in rows:
        out.update({k: v for k, v in r.items() if k.startswith(prefix)})
    return out


def read_metrics(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows of a metrics.csv with numbers parsed (empty cells dropped)."""
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.append({k: float(v) for k, v in r.items() if v not in ("", None)})
    return rows


def read_rows(run: RunDir) -> list[dict[str, float]]:
    """``read_metrics`` of the run's ``metrics.csv``; [] when it has none or it cannot be read."""
    try:
        return read_metrics(run.metrics_csv) if run.metrics_csv.is_file() else []
    except (OSError, ValueError):  # a file cut short by a kill: shown as no metrics, never a crash
        return []


def read_run(path: str | Path) -> RunInfo:
    """What the run folder ``path`` holds (missing pieces as None or empty, never an error)."""
    run = RunDir(path)
    try:
        config = run.read_config()
    except Exception:  # noqa: BLE001 — a damaged config.yaml: listed as such
        config = {}
    summary = _json(run.path / SUMMARY)
    evaluation = {k: v for k, v in _json(run.eval_json).items() if isinstance(v, int | float)}
    progress = _json(run.model_progress)
    rows = [] if summary else read_rows(run)
    metrics = dict(summary.get("metrics") or last_values(rows))
    iterations = summary.get("iterations", progress.get("iteration"))
    if iterations is None and rows:
        iterations = int(max(r.get("step", 0) for r in rows))
    panels = tuple(Panel.from_list(p) for p in summary.get("panels", [])) or guess(rows or read_rows(run))
    return RunInfo(run.path, str(summary.get("model", config.get("model", "?"))),
                   str(summary.get("data", config.get("data", "?"))), iterations, summary.get("seconds"),
                   bool(summary) or bool(progress.get("finished")),
                   {**metrics, **{f"test/{k}": float(v) for k, v in evaluation.items()}},
                   _headline(summary, metrics, evaluation), panels)


def _headline(summary: dict, metrics: dict[str, float], evaluation: dict[str, float]) -> tuple[str, float] | None:
    for name in summary.get("default_metric") or []:
        if name in evaluation:
            return f"test/{name}", float(evaluation[name])
    for name in (summary.get("monitor"), "val/loss"):
        if name and name in metrics:
            return name, float(metrics[name])
    return None


def duration(seconds: float | None) -> str:
    """``9`` → ``9s``, ``75.2`` → ``1m15s``, ``3700`` → ``1h01m40s`` (whole seconds); None → ``?``."""
    if seconds is None:
        return "?"
    s = max(0, round(seconds))
    h, m, s = s // 3600, s // 60 % 60, s % 60
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def figure(v: float) -> str:
    """A metric as a table shows it: 4 significant digits, no exponent for ordinary magnitudes."""
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
