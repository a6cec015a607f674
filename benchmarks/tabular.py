"""Synthetic tables (G10, issue 27) judged three ways, genlab side by side with the reference package ``ctgan``.

For each table dataset and each synthesizer — genlab ``ctgan``, ``tvae``, ``copula``, ``table-marginals`` and the
package's ``ctgan.CTGAN`` and ``ctgan.TVAE`` (0.12.1, BSL; used here only, never by ``src/``) — train on the same
training split (``seed=0, val_fraction=0.1, test_fraction=0.2`` for every dataset: bigger holdouts), with the same
epoch budget and batch size, time the training wall clock (``torch.set_num_threads(2)`` for both), draw as many
synthetic rows as the training split and judge them with ``genlab.metrics.tabular.judge(train, test, synthetic,
columns, target)``: fidelity (SDMetrics QualityReport: overall, column shapes, pair trends, against the training
rows), utility (TSTR vs TRTR on the test rows: macro-F1 or R²) and privacy (DCR ratio, membership-inference AUROC,
the test rows as the holdout).

- Batch: 500 (the package's default). A table of fewer than 500 training rows gets, for genlab, the largest
  multiple of 10 ≤ its rows (CTGAN packs ``pac=10`` rows per critic input and takes batches without replacement);
  the package is left at 500: its CTGAN draws each batch with replacement (one step per epoch when N < 500), its
  TVAE takes the whole table as one batch.
- Both sides get one untimed warm-up epoch on penguins first (imports, lazy initialisation).
- Learning rates: each side's default (CTGAN 2e-4, TVAE 1e-3: the same). ``table-marginals`` gets the same epochs
  and batch; ``copula`` is fitted in closed form (no epochs).
- genlab's seconds are the whole ``genlab.training.train(...)`` call (run folder, per-epoch validation and
  checkpoints included); the package's are ``fit(...)``.
- The package gets a frame: categorical columns as text in ``discrete_columns``, datetimes as days since genlab's
  ``EPOCH`` (converted back after sampling), bools as text.

Results go to ``results/tabular.json`` after every (dataset, model, seed), merged with the records already there
(same dataset, model and seed: replaced), so a crash loses nothing.

    python benchmarks/tabular.py                                   # all six tables, default epochs (2 cores)
    python benchmarks/tabular.py --datasets penguins cars --epochs 50 --models genlab-ctgan ctgan-package
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_DIR, command_line  # noqa: E402

DATASETS = ("penguins", "cars", "breast-cancer", "seattle-weather", "fair", "randhie")
MODELS = ("genlab-ctgan", "ctgan-package", "genlab-tvae", "tvae-package", "genlab-copula", "genlab-table-marginals")
#: epochs per dataset: the package's default 300 for the tables under 2,000 rows, fewer for fair and randhie so
#: that the whole run fits in about an hour on 2 cores
DEFAULT_EPOCHS = {"penguins": 300, "cars": 300, "breast-cancer": 300, "seattle-weather": 300, "fair": 300,
                  "randhie": 150}
SPLIT = {"seed": 0, "val_fraction": 0.1, "test_fraction": 0.2}
PACKAGE_BATCH = 500


def genlab_batch(n_train: int) -> int:
    """500, or for a smaller table the largest multiple of 10 ≤ its rows."""
    return PACKAGE_BATCH if n_train >= PACKAGE_BATCH else max(10, n_train - n_train % 10)


def load_split(name: str):
    from genlab.data import load
    from genlab.data.tabular.frame import to_frame

    train = load(name, split="train", **SPLIT)
    test = load(name, split="test", **SPLIT)
    columns = train.meta["columns"]
    frames = [to_frame(columns, d.fields["numeric"], d.fields["categorical"]) for d in (train, test)]
    return columns, train.meta.get("target"), frames[0], frames[1]


def dtype_of(c: dict) -> str:
    return c.get("dtype") or ("float" if c["type"] == "numeric" else "str")


def to_package(frame, columns):
    """The frame the package reads: datetimes as days since EPOCH, bools and categories as text."""
    import pandas as pd

    from genlab.columns import EPOCH

    out = {}
    for c in columns:
        cells, kind = frame[c["name"]], dtype_of(c)
        if kind == "datetime":
            out[c["name"]] = (pd.to_datetime(cells) - pd.Timestamp(EPOCH)).dt.total_seconds() / 86_400.0
        elif c["type"] == "categorical":
            out[c["name"]] = cells.astype(str)
        else:
            out[c["name"]] = cells
    return pd.DataFrame(out, index=frame.index)


def from_package(frame, columns):
    """The package's samples back in genlab's dtypes: days → datetime64, text → bool, ints rounded."""
    import pandas as pd

    from genlab.columns import EPOCH

    out = {}
    for c in columns:
        cells, kind = frame[c["name"]], dtype_of(c)
        if kind == "datetime":
            out[c["name"]] = pd.Timestamp(EPOCH) + pd.to_timedelta(cells.astype(float) * 86_400, unit="s")
        elif kind == "bool":
            out[c["name"]] = cells.astype(str) == "True"
        elif kind == "int" and c["type"] == "numeric":
            out[c["name"]] = pd.to_numeric(cells).round().astype("int64")
        else:
            out[c["name"]] = cells
    return pd.DataFrame(out).reset_index(drop=True)


def run_genlab(model: str, dataset: str, columns, n: int, epochs: int, batch: int, seed: int) -> tuple:
    import torch

    from genlab.data.tabular.frame import to_frame
    from genlab.training import TrainConfig, train

    with tempfile.TemporaryDirectory(prefix=f"tabular-{model}-") as tmp:
        t0 = time.perf_counter()
        # a table under 500 rows: CTGAN still draws the package's 500 rows per step (training-by-sampling)
        options = {"rows_per_step": PACKAGE_BATCH} if model == "ctgan" and batch < PACKAGE_BATCH else {}
        r = train(TrainConfig(model=model, data=dataset, epochs=epochs, batch_size=batch, seed=seed, quiet=True,
                              out=str(Path(tmp) / "run"), data_options=dict(SPLIT), model_options=options))
        seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        with torch.no_grad():
            s = r.model.sample(n, generator=torch.Generator().manual_seed(seed))
        sample_seconds = time.perf_counter() - t0
    return seconds, sample_seconds, to_frame(columns, s["numeric"], s["categorical"])


def run_package(kind: str, columns, train_frame, n: int, epochs: int, seed: int) -> tuple:
    import warnings

    import numpy as np
    import torch
    from ctgan import CTGAN, TVAE

    data = to_package(train_frame, columns)
    discrete = [c["name"] for c in columns if c["type"] == "categorical"]
    np.random.seed(seed)
    torch.manual_seed(seed)
    model = (CTGAN if kind == "ctgan" else TVAE)(epochs=epochs, batch_size=PACKAGE_BATCH, enable_gpu=False)
    if hasattr(model, "set_random_state"):
        model.set_random_state(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model.fit(data, discrete_columns=discrete)
        seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        s = model.sample(n)
        sample_seconds = time.perf_counter() - t0
    return seconds, sample_seconds, from_package(s, columns)


def warm_up(models) -> None:
    """One untimed epoch of each side on penguins, so that neither side's first timed run pays the imports (genlab:
    Lightning; the package: rdt, sklearn's mixture)."""
    columns, _, train_frame, _ = load_split("penguins")
    if any(m.startswith("genlab-") for m in models):
        run_genlab("ctgan", "penguins", columns, 10, 1, genlab_batch(len(train_frame)), 0)
    if any(m.endswith("-package") for m in models):
        run_package("ctgan", columns, train_frame, 10, 1, 0)


def save(path: Path, records: list[dict], env: dict) -> None:
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"name": "tabular", "env": env, "records": records}, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _f(v, digits: int = 3) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def table(records: list[dict], dataset: str) -> str:
    rows = [r for r in records if r["dataset"] == dataset]
    if not rows:
        return ""
    head = (f"### {dataset} ({rows[0].get('n_train')} training rows, {rows[0].get('n_test')} test; target "
            f"{rows[0].get('target')!r}, {rows[0].get('utility_metric')})\n\n"
            "| model | epochs | batch | train s | fidelity | shapes | pairs | TSTR | TRTR | DCR ratio | MIA AUROC |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in sorted(rows, key=lambda r: (MODELS.index(r["model"]) if r["model"] in MODELS else 99, r["seed"])):
        name = r["model"] + (f" (seed {r['seed']})" if r["seed"] else "")
        if "error" in r:
            lines.append(f"| {name} | {r.get('epochs')} | {r.get('batch')} | failed: {r['error'][:80]} "
                         "| | | | | | | |")
            continue
        m = r.get("utility_metric", "f1")
        lines.append(f"| {name} | {r['epochs'] or '—'} | {r['batch'] or '—'} | {r['train_seconds']:.1f} | "
                     f"{_f(r['fidelity'])} | "
                     f"{_f(r['fidelity_column_shapes'])} | {_f(r['fidelity_column_pair_trends'])} | "
                     f"{_f(r.get('tstr_' + m))} | {_f(r.get('trtr_' + m))} | {_f(r['privacy_dcr_ratio'], 2)} | "
                     f"{_f(r['privacy_mia_auroc'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--epochs", type=int, default=None,
                   help=f"one epoch budget for every dataset (default per dataset: {DEFAULT_EPOCHS})")
    p.add_argument("--seeds", type=int, default=1, help="seeds per (dataset, model): first-seed .. first-seed+N-1")
    p.add_argument("--first-seed", type=int, default=0, help="the first seed (its records replace that seed's)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(RESULTS_DIR / "tabular.json"))
    args = p.parse_args(argv)

    import torch

    from genlab.metrics.tabular import judge

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    records: list[dict] = []
    if out.exists():  # keep the records of other (dataset, model, seed)s
        records = json.loads(out.read_text()).get("records", [])
    env = {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
           "cpus": os.cpu_count(), "ctgan": _version("ctgan"), "sdmetrics": _version("sdmetrics"),
           "split": SPLIT, "command": command_line()}
    warm_up(args.models)
    start = time.perf_counter()
    for dataset in args.datasets:
        columns, target, train_frame, test_frame = load_split(dataset)
        n = len(train_frame)
        epochs = args.epochs or DEFAULT_EPOCHS[dataset]
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for model in args.models:
                package = model.endswith("-package")
                batch = PACKAGE_BATCH if package else genlab_batch(n)
                rec = {"dataset": dataset, "model": model, "seed": seed, "epochs": None if model == "genlab-copula"
                       else epochs, "batch": None if model == "genlab-copula" else batch, "n_train": n,
                       "n_test": len(test_frame), "target": target, "threads": torch.get_num_threads(),
                       "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
                print(f"[{time.perf_counter() - start:7.0f} s] {dataset} {model} seed {seed}: {epochs} epochs, "
                      f"batch {batch}", flush=True)
                try:
                    if package:
                        secs, sample_secs, synthetic = run_package(model.split("-")[0], columns, train_frame, n,
                                                                   epochs, seed)
                    else:
                        secs, sample_secs, synthetic = run_genlab(model.removeprefix("genlab-"), dataset, columns,
                                                                  n, epochs, batch, seed)
                    rec.update(train_seconds=round(secs, 2), sample_seconds=round(sample_secs, 3))
                    rec.update(judge(train_frame, test_frame, synthetic, columns, target, seed=seed))
                    rec["utility_metric"] = "f1" if "tstr_f1" in rec else "r2"
                except Exception as e:  # noqa: BLE001 — record it and go on
                    rec["error"] = f"{type(e).__name__}: {e}"
                    rec["traceback"] = traceback.format_exc()
                    print(rec["traceback"], flush=True)
                records = [r for r in records if (r["dataset"], r["model"], r["seed"]) != (dataset, model, seed)]
                records.append(rec)
                save(out, records, env)
                if "error" not in rec:
                    m = rec["utility_metric"]
                    print(f"    train {rec['train_seconds']:.1f} s, fidelity {rec['fidelity']:.3f}, TSTR "
                          f"{rec['tstr_' + m]:.3f} (TRTR {rec['trtr_' + m]:.3f}), DCR ratio "
                          f"{rec['privacy_dcr_ratio']:.2f}, MIA AUROC {rec['privacy_mia_auroc']:.3f}", flush=True)
        print("\n" + table(records, dataset) + "\n", flush=True)
    print(f"total {time.perf_counter() - start:.0f} s")


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
