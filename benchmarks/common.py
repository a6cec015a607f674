"""Shared by the benchmark scripts: timing, result records, and the RESULTS.md table.

Each script calls ``write_results(name, records, command)``: it writes
``benchmarks/results/<name>.json`` and replaces the section ``<name>`` of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"


def record(name: str, metric: str, value: float, unit: str, reference: float | None = None,
           ratio: float | None = None, **extra) -> dict:
    """One result row: ``ratio`` defaults to value / reference when both are given."""
    if ratio is None and reference not in (None, 0):
        ratio = value / reference
    return {"name": name, "metric": metric, "value": value, "unit": unit, "reference": reference,
            "ratio": ratio, **extra}


def timeit(fn, *, repeat: int = 5, warmup: int = 1) -> float:
    """Median seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, all its threads (a CPU-minute budget's clock)."""
    t = os.times()
    return t.user + t.system


def command_line() -> str:
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:])


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def write_results(name: str, records: list[dict], command: str | None = None, notes: str = "") -> Path:
    """Write results/<name>.json and the <name> section of RESULTS.md (a table of the records)."""
    import torch

    command = command or command_line()
    date = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    env = {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
           "cpus": os.cpu_count()}
    for r in records:
        r.setdefault("command", command)
        r.setdefault("date", date)
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps({"name": name, "env": env, "records": records}, indent=2) + "\n")

    cols = ["name", "metric", "value", "unit", "reference", "ratio"]
    extra = sorted({k for r in records for k in r} - set(cols) - {"command", "date"})
    lines = [f"## {name}", "", f"Command: `{command}` — {date}, torch {env['torch']}, "
             f"{env['threads']} threads.", ""]
    if notes:
        lines += [notes, ""]
    header = cols + extra
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in records:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in header) + " |")
    section = "\n".join(lines) + "\n"

    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    preamble = "# Benchmark results\n\nEvery figure here was measured by the script and command named in its section.\n"
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else preamble
    block = f"{start}\n{section}{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS_MD.write_text(text)
    return path


def timed_train(model: str, data: str, minutes: float, *, seed: int = 0, callbacks: list | None = None,
                keep: Path | None = None, **overrides):
    """Train ``model`` on ``data`` through ``genlab.training.train`` for ``minutes`` of wall time (no epoch
    limit, no sample grids, quiet) in a temporary folder, or in the run folder ``keep`` (kept; it must not
    exist yet); the ``RunResult`` and the process CPU seconds."""
    import shutil
    import tempfile

    from genlab.training import TrainConfig, train

    out = Path(tempfile.mkdtemp(prefix=f"bench-{model}-"))
    try:
        cpu0 = time.process_time()
        cfg = TrainConfig(model=model, data=data, epochs=-1, max_time=f"{minutes * 60:.0f}s", seed=seed, quiet=True,
                          num_samples=0, out=str(keep or out / "run"), **{"val_size": 1000, **overrides})
        r = train(cfg, callbacks=callbacks)
        return r, time.process_time() - cpu0
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _threaded(job):
    """``fn(*args)`` in a worker process of ``threads`` torch threads (``in_workers``)."""
    import torch

    threads, fn, args = job
    torch.set_num_threads(threads)
    return fn(*args)


def in_workers(fn, jobs: list[tuple], workers: int, threads: int):
    """``fn(*job)`` for each of ``jobs``, ``workers`` at a time, each in its own spawned process of ``threads`` torch
    threads; the results in the jobs' order, each as it ends (same results as one after another)."""
    import torch

    with torch.multiprocessing.get_context("spawn").Pool(max(1, workers)) as pool:
        yield from pool.imap(_threaded, [(threads, fn, job) for job in jobs])
