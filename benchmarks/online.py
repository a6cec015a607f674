"""Batch vs online learning on drifting streams (F7), evaluated prequentially (issue 27).

Three learners read each stream in chunks of 500 rows, predicting every chunk before learning from it
(``genlab.evaluation.online``):

- ``genlab online``: ``OnlineClassifier`` (logistic regression, running Welford standardization, one pass of Adam
  steps, batch 32, lr 0.03, over each chunk);
- ``sklearn SGDClassifier``: ``SGDClassifier(loss="log_loss")`` defaults, ``partial_fit`` on each chunk after a
  ``StandardScaler.partial_fit``;
- ``batch``: the same ``OnlineClassifier`` trained once, 20 epochs over the first 4 chunks (2,000 rows), then
  frozen (no predictions on those 4 chunks).

Streams (``genlab.data.tabular.stream``), 20,000 rows, drift at row 10,000: ``sea`` (SEA concepts, y = 1[f1 + f2 ≤
θ], θ 7 → 9.5, 10 % label noise: at best 0.90) and ``digits`` (scikit-learn's 8×8 digits drawn with replacement,
mirrored left ↔ right from the drift on). Figures: accuracy pooled over the chunks before the drift, after it, the
last quarter (rows 15,000–20,000: after recovery) and overall, mean ± std over the seeds; seconds of
predict + update per learner and stream.

    python benchmarks/online.py                 # 5 seeds × 2 streams, ~1 minute on 1 thread
    python benchmarks/online.py --seeds 2 --rows 10000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import RESULTS_DIR, command_line  # noqa: E402

STREAMS = ("sea", "digits")
SPANS = ("before drift", "after drift", "last quarter", "overall")


def spans(result, drift: int, n: int) -> dict[str, float]:
    return {"before drift": result.mean_accuracy(0, drift), "after drift": result.mean_accuracy(drift),
            "last quarter": result.mean_accuracy(round(0.75 * n)), "overall": result.mean_accuracy()}


def plot(runs: dict, path: Path, chunk: int) -> Path:
    """One panel per stream: each learner's per-chunk prequential accuracy (seed 0), the drift dashed."""
    from genlab.plots import finish_figure, pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(6.5 * len(runs), 4.2), squeeze=False)
    for ax, (stream, results) in zip(axes[0], runs.values(), strict=True):
        for r in results:
            ax.plot(r.rows, r.accuracy, marker="o", markersize=2, linewidth=1.3,
                    label=f"{r.name} (overall {r.mean_accuracy():.3f})")
        for d in stream.drift_rows:
            ax.axvline(d, color="0.3", linestyle="--", linewidth=1, label="drift")
        ax.set_title(stream.description, fontsize=9)
        ax.set_xlabel("rows seen")
        ax.set_ylabel("accuracy on each chunk, before training on it")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=8)
    return finish_figure(fig, path, f"prequential accuracy, chunks of {chunk} rows (seed 0): online vs batch (F7)")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--chunk", type=int, default=500)
    p.add_argument("--batch-chunks", type=int, default=4)
    p.add_argument("--name", default="online")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from genlab.data.tabular.stream import digits_stream, sea_stream
    from genlab.evaluation.online import default_learners, prequential_all

    makers = {"sea": sea_stream, "digits": digits_stream}
    records, shown = [], {}
    t_all = time.perf_counter()
    for name in STREAMS:
        per_learner: dict[str, dict[str, list[float]]] = {}
        for seed in range(args.seeds):
            stream = makers[name](args.rows, args.chunk, seed)
            results = prequential_all(default_learners(stream.n_features, stream.num_classes, seed=seed,
                                                       batch_chunks=args.batch_chunks), stream)
            if seed == 0:
                shown[name] = (stream, results)
            for r in results:
                acc = per_learner.setdefault(r.name, {k: [] for k in (*SPANS, "seconds")})
                for k, v in spans(r, stream.drift_rows[0], args.rows).items():
                    acc[k].append(v)
                acc["seconds"].append(r.seconds)
        print(f"\n{shown[name][0].description}; {args.seeds} seeds, mean ± std")
        print(f"{'learner':<24}" + "".join(f"{k:>16}" for k in (*SPANS, "seconds")))
        for learner, acc in per_learner.items():
            row = {k: (float(np.mean(v)), float(np.std(v))) for k, v in acc.items()}
            print(f"{learner:<24}" + "".join(f"{m:>9.3f} ± {s:.3f}" for m, s in row.values()))
            records.append({"stream": name, "learner": learner, "seeds": args.seeds, "rows": args.rows,
                            "chunk": args.chunk, **{k: {"mean": m, "std": s} for k, (m, s) in row.items()},
                            "per_seed": acc})
    wall = time.perf_counter() - t_all
    print(f"\nwall time {wall:.1f} s (1 thread)")

    import os
    import platform

    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{args.name}.json"
    env = {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
           "cpus": os.cpu_count()}
    path.write_text(json.dumps({"name": args.name, "command": command_line(), "env": env, "wall_s": wall,
                                "records": records}, indent=2) + "\n")
    png = plot(shown, RESULTS_DIR / f"{args.name}.png", args.chunk)
    print(f"→ {path}\n→ {png}")


if __name__ == "__main__":
    main()
