"""Dynamic evaluation of a trained character LM on kjv (issue 25; ``genlab.evaluation.dynamic``, Krause et al.
2018): the step size η and the decay λ chosen on the validation split from a grid, then the test bits/char with
them, next to the static figures of the same model.

Each figure is prequential: a batch of the text is scored before the model takes its step on it. The grid's cost
(one pass of forward + backward over the validation text per point) and the test pass are stated in CPU-minutes,
beside the training run's own budget.

    python benchmarks/text_dynamic.py runs/bench-lstm-lm-long --lrs 0.1 0.3 1               # the SGD form
    python benchmarks/text_dynamic.py runs/bench-lstm-lm-long --rms 100 --lrs 1e-5 3e-5 1e-4 --decays 0 0.01
    python benchmarks/text_dynamic.py runs/bench-lstm-lm-long --rms 30 --readings 1x512 32x128 --lrs 5e-4 1e-3

``--readings``: how the split is read, each LANESxCHARACTERS (the reading is chosen on validation with η and λ);
1x512, the default, reads it as one stream of rows of 512 characters, a step after each; the benchmarks before
``--readings`` read 32 lanes of the run's rows (``32x128`` on kjv).

``--ngram N``: each grid point also mixes the LM's probabilities with an adaptive Kneser–Ney model of order N
(``genlab eval --dynamic-ngram N``), and the mixture's weight is chosen on validation with the rest, among
``genlab.evaluation.dynamic.NGRAM_WEIGHTS`` (one pass gives them all).

    python benchmarks/text_dynamic.py runs/bench-lstm-lm-long --rms 30 --readings 1x128 --lrs 5e-4 --decays 0.01 \
        --ngram 9
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import command_line, cpu_seconds, record, write_results  # noqa: E402

from genlab.evaluation import evaluate  # noqa: E402
from genlab.rundir import RunDir  # noqa: E402


def bits(model, split: str, data_options: dict, **dynamic) -> tuple[float, float]:
    """(bits/char of ``split``, CPU-minutes it took): static without ``dynamic``, else dynamic with its options."""
    out, cpu = figures(model, split, data_options, **dynamic)
    return out["dynamic_bits" if dynamic else "loss_bits"], cpu


def figures(model, split: str, data_options: dict, **dynamic) -> tuple[dict, float]:
    """(``evaluate``'s figures of ``split``, CPU-minutes it took): the static loss, or the dynamic metric."""
    c0 = cpu_seconds()
    out = evaluate(model, "kjv", ["dynamic" if dynamic else "loss"], split=split, data_options=data_options,
                   **dynamic)
    return out, (cpu_seconds() - c0) / 60


def parse_reading(text: str) -> tuple[int, int]:
    """``"1x512"`` → (lanes 1, rows of 512 characters)."""
    lanes, sep, block = text.partition("x")
    if not (sep and lanes.isdigit() and block.isdigit() and int(lanes) >= 1 and int(block) >= 1):
        raise SystemExit(f"--readings {text!r}: write LANESxCHARACTERS, e.g. 1x512 or 32x128")
    return int(lanes), int(block)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="a trained LM's run folder (its model/ is read)")
    p.add_argument("--lrs", type=float, nargs="+", default=[0.003, 0.01, 0.03], help="step sizes η to try")
    p.add_argument("--decays", type=float, nargs="+", default=[0.0], help="decays λ to try")
    p.add_argument("--rms", type=int, default=0, help="the RMS form, its gradient scale from this many training "
                   "batches (0: the SGD form)")
    p.add_argument("--readings", nargs="+", default=["1x512"], help="ways to read the split, LANESxCHARACTERS: "
                   "lanes side by side (1: one stream) and the characters of a row, each a segment of one update")
    p.add_argument("--ngram", type=int, default=0, help="mix with an adaptive Kneser–Ney model of this order, "
                   "its weight chosen on validation (0: no mixture)")
    p.add_argument("--ngram-refit", type=int, default=50_000, help="characters between the n-gram model's refits")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--name", default="text_lm_dynamic")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    folder = RunDir(args.run)
    model, options = folder.load_model(), folder.data_options()
    records, grid = [], {}
    mixing = {"dynamic_ngram": args.ngram, "dynamic_ngram_refit": args.ngram_refit} if args.ngram else {}
    form = f"dynamic RMS ({args.rms} batches)" if args.rms else "dynamic SGD"
    static_val, cpu = bits(model, "val", options)
    print(f"validation, static: {static_val:.4f} bits/char ({cpu:.1f} CPU-min)", flush=True)
    records.append(record("static", "validation bits/char", static_val, "bits/char", cpu_minutes=round(cpu, 2)))
    for reading in args.readings:
        lanes, block = parse_reading(reading)
        for lr in args.lrs:
            for decay in args.decays:
                out, cpu = figures(model, "val", {**options, "block_size": block}, dynamic_lr=lr,
                                   dynamic_decay=decay, dynamic_rms=args.rms, dynamic_lanes=lanes, **mixing)
                label = f"{form}, {lanes} lane(s) × {block} characters, η {lr:g} λ {decay:g}"
                for w, b in out.get("dynamic_bits_by_weight", {None: out["dynamic_bits"]}).items():
                    grid[lanes, block, lr, decay, w] = b
                    name = label + (f", mixed with KN-{args.ngram} at w {w}" if w else "")
                    print(f"validation, {name}: {b:.4f} bits/char ({cpu:.1f} CPU-min a pass)", flush=True)
                    records.append(record(name, "validation bits/char", b, "bits/char", reference=static_val,
                                          cpu_minutes=round(cpu, 2)))
                if args.ngram:
                    for part in ("lm", "ngram"):
                        records.append(record(f"{label}: the {part.upper()} alone", "validation bits/char",
                                              out[f"dynamic_{part}_bits"], "bits/char", reference=static_val))
                    print(f"validation, {label}: the LM alone {out['dynamic_lm_bits']:.4f}, KN-{args.ngram} "
                          f"alone {out['dynamic_ngram_bits']:.4f}", flush=True)
    lanes, block, lr, decay, w = min(grid, key=grid.get)
    static_test, cpu_static = bits(model, "test", options)
    chosen = {"dynamic_ngram_weight": float(w), **mixing} if w else {}
    out, cpu = figures(model, "test", {**options, "block_size": block}, dynamic_lr=lr, dynamic_decay=decay,
                       dynamic_rms=args.rms, dynamic_lanes=lanes, **chosen)
    dynamic_test = out["dynamic_bits"]
    label = f"{form}, {lanes} lane(s) × {block} characters, η {lr:g} λ {decay:g}" + \
        (f", mixed with KN-{args.ngram} at w {w}" if w else "")
    if w:
        for part in ("lm", "ngram"):
            records.append(record(f"{label}: the {part.upper()} alone", "test bits/char", out[f"dynamic_{part}_bits"],
                                  "bits/char", reference=static_test))
        print(f"test: the LM alone {out['dynamic_lm_bits']:.4f}, KN-{args.ngram} alone "
              f"{out['dynamic_ngram_bits']:.4f}", flush=True)
    print(f"test: static {static_test:.4f}, dynamic ({label}, chosen on validation) {dynamic_test:.4f} "
          f"bits/char ({cpu:.1f} CPU-min)", flush=True)
    records.append(record("static", "test bits/char", static_test, "bits/char", cpu_minutes=round(cpu_static, 2)))
    records.append(record(f"{label} (chosen on validation)", "test bits/char", dynamic_test,
                          "bits/char", reference=static_test, cpu_minutes=round(cpu, 2)))
    write_results(args.name, records, command_line(),
                  notes=f"Host: {os.cpu_count()} cores, {args.threads} thread(s). Model: {args.run}/model "
                        f"({type(model).__name__}). Ratio: against the static figure of the same split. "
                        f"CPU-minutes: of each evaluation pass.")


if __name__ == "__main__":
    main()
