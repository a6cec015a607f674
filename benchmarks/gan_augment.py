"""G10 (images): does a conditional GAN trained on 100 digits per class help a classifier trained on them?

For each seed: the cGAN (``genlab.models.gan.CGAN``, registry defaults) is trained for ``--minutes`` on only
``--per-class`` MNIST training digits of each class (``TrainConfig.train_per_class``, drawn with the seed);
LeNet is then trained (``genlab.evaluation.augment``, the same optimizer steps, batch and seed) on those real
digits alone and on them plus ``--synthetic-per-class`` cGAN samples of each class, and both are tested on
the 10,000 real test digits. Goal: a gain beyond the seeds' spread.

    python benchmarks/gan_augment.py --seeds 3 --minutes 3 --name gan_augment
    python benchmarks/gan_augment.py --seeds 3 --minutes 5 --ema-decay 0.999 --synthetic-per-class 50 100 400 \
        --name gan_augment_ema
    python benchmarks/gan_augment.py --seeds 3 --minutes 2.5 --per-class 20 --lr 1e-3 --ema-decay 0.999 \
        --set model.augment=[translation,cutout] --lenet-seeds 3 --name gan_augment_20_diffaugment

    python benchmarks/gan_augment.py --seeds 3 --minutes 10 --per-class 100 --lr 1e-3 --ema-decay 0.999 \
        --synthetic-per-class 1000 --synthetic-share 0 0.25 --pretrain-steps 0 750 --lr-schedule cosine \
        --lenet-seeds 2 --set model.r1_weight=0.1 --set model.generator.channels=48 \
        --set model.discriminator.channels=48 --keep /tmp/g10-cgans --name gan_augment_cosine

``--set`` takes the cGAN's options as ``genlab train --set`` does; ``--lenet-seeds K`` trains K LeNets per
condition (seeds ``seed + 1000·j``) and averages their accuracies, so a seed's gain is less LeNet's own noise;
``--lr-schedule cosine`` decays LeNet's learning rate (both conditions), which steadies its final weights;
``--keep DIR`` keeps each seed's cGAN and reuses it when the same command (any LeNet options) runs again.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, record, timed_train, write_results  # noqa: E402

import genlab  # noqa: E402
from genlab.data import load  # noqa: E402
from genlab.errors import TrainingDiverged  # noqa: E402
from genlab.evaluation.augment import (  # noqa: E402
    SCHEDULES,
    AugmentationResult,
    augmentation_gain,
    fit_classifier,
    synthetic_labelled,
)
from genlab.plots import image_grid  # noqa: E402
from genlab.training.config import parse_set  # noqa: E402


def describe(variant: tuple[int, float, float, int]) -> str:
    """A variant's row name: ``(synthetic per class, share of each batch (0: union), min confidence,
    pre-training steps on the samples (0: none))``."""
    k, share, conf, pre = variant
    return (f"{k} cGAN samples per class" + (f", {share:.0%} of each batch" if share else "")
            + (f", LeNet confidence ≥ {conf:g}" if conf else "")
            + (f", {pre} steps on them first, then the real digits" if pre else ""))


def one_lenet(model, real, test, variants, steps: int, seed: int, schedule: str) -> dict[tuple, AugmentationResult]:
    """Each variant's comparison with LeNets seeded ``seed`` (one real-only LeNet shared by the variants)."""
    alone = fit_classifier(real.x, real.y, steps=steps, seed=seed, lr_schedule=schedule)
    return {v: augmentation_gain(model, real.x, real.y, test.x, test.y, synthetic_per_class=v[0],
                                 synthetic_share=v[1] or None, min_confidence=v[2], pretrain_steps=v[3],
                                 steps=steps, seed=seed, lr_schedule=schedule, baseline=alone) for v in variants}


def lenet_mean(runs: list[dict[tuple, AugmentationResult]]) -> dict[tuple, AugmentationResult]:
    """The variants' results averaged over LeNet seeds (accuracies and the synthetic images kept)."""
    return {v: AugmentationResult(real_only=statistics.mean(run[v].real_only for run in runs),
                                  augmented=statistics.mean(run[v].augmented for run in runs),
                                  real=runs[0][v].real, drawn=runs[0][v].drawn,
                                  synthetic=round(statistics.mean(run[v].synthetic for run in runs)))
            for v in runs[0]}


def cgan(args, seed: int) -> tuple[SimpleNamespace, float]:
    """The seed's cGAN trained ``--minutes`` on its subset: ``(model, iterations)`` and its CPU seconds. With
    ``--keep DIR`` the run folder is ``DIR/seed<seed>`` and a finished one there is loaded, not retrained (its
    config must be this command's, or it is refused)."""
    overrides = dict(train_per_class=args.per_class, val_size=500, ema_decay=args.ema_decay,
                     **({} if args.lr is None else {"lr": args.lr}), **parse_set(args.sets))
    keep = Path(args.keep) / f"seed{seed}" if args.keep else None
    asked = {"minutes": args.minutes, "seed": seed, **overrides}
    if keep is not None and (keep / "bench.json").is_file():
        done = json.loads((keep / "bench.json").read_text())
        if done["asked"] != json.loads(json.dumps(asked)):
            raise SystemExit(f"{keep} holds a cGAN trained with {done['asked']}, not {asked}: pass another --keep")
        print(f"seed {seed}: the cGAN in {keep} ({done['steps']} iterations)", flush=True)
        return SimpleNamespace(model=genlab.load(keep), steps=done["steps"]), done["cpu"]
    if keep is not None and keep.exists():
        raise SystemExit(f"{keep} holds an unfinished run: delete it or pass another --keep")
    r, cpu = timed_train("cgan", "mnist", args.minutes, seed=seed, keep=keep, **overrides)
    if keep is not None:
        (keep / "bench.json").write_text(json.dumps({"asked": asked, "steps": r.steps, "cpu": cpu}))
    return r, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--minutes", type=float, default=3.0, help="cGAN training per seed")
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--synthetic-per-class", type=int, nargs="+", default=[400],
                   help="synthetic samples per class; several values: one comparison each, the same cGAN")
    p.add_argument("--synthetic-share", type=float, nargs="+", default=[0.0],
                   help="the synthetic images' share of each LeNet mini-batch; 0: drawn from the union (several: "
                        "one comparison each)")
    p.add_argument("--min-confidence", type=float, nargs="+", default=[0.0],
                   help="keep the samples the real-only LeNet gives their class this probability (0: all)")
    p.add_argument("--pretrain-steps", type=int, nargs="+", default=[0],
                   help="LeNet steps on the samples alone before the real digits (of --steps; 0: the union)")
    p.add_argument("--ema-decay", type=float, default=0.0, help="EMA of the cGAN's generator (0: off)")
    p.add_argument("--lr", type=float, default=None, help="the cGAN's learning rate (default: the registry's)")
    p.add_argument("--steps", type=int, default=1500, help="LeNet optimizer steps (batch 64), both conditions")
    p.add_argument("--lr-schedule", choices=SCHEDULES, default="constant",  # the earlier rows ran at a constant rate
                   help="LeNet's learning rate, both conditions: constant, or a cosine decay to 0 over the steps "
                        "on real digits")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a cGAN training option as `genlab train --set` takes it, e.g. model.r1_weight=0.1")
    p.add_argument("--lenet-seeds", type=int, default=1, help="LeNets per condition, their accuracies averaged")
    p.add_argument("--keep", default=None, metavar="DIR",
                   help="keep each seed's cGAN run in DIR/seed<N> and reuse it when the same command runs again")
    p.add_argument("--name", default="gan_augment")
    args = p.parse_args()
    torch.set_num_threads(2)
    train_all, test = load("mnist", split="train"), load("mnist", split="test")
    rows, diverged = [], []
    variants = [v for v in itertools.product(args.synthetic_per_class, args.synthetic_share, args.min_confidence,
                                             args.pretrain_steps) if not (v[1] and v[3])]  # a share, or pre-training
    for seed in range(args.seeds):
        real = train_all.per_class(args.per_class, seed=seed)  # the subset train() draws for the cGAN
        try:
            r, cpu = cgan(args, seed)
        except TrainingDiverged as e:  # reported, not hidden: the row counts the seeds that trained
            print(f"seed {seed}: the cGAN diverged ({e})", flush=True)
            diverged.append(seed)
            continue
        results = lenet_mean([one_lenet(r.model, real, test, variants, args.steps, seed + 1000 * j, args.lr_schedule)
                              for j in range(args.lenet_seeds)])
        if not rows:  # the first seed that trained
            x, _ = synthetic_labelled(r.model, 8, seed=0)
            image_grid(x.view(10, 8, *x.shape[1:]).transpose(0, 1).reshape(-1, *x.shape[1:]),
                       RESULTS_DIR / f"{args.name}_samples.png", nrow=10)
        rows.append((results, r.steps, cpu, seed))
        for v, res in results.items():
            print(f"seed {seed}: real only {100 * res.real_only:.2f} %, + {describe(v)} "
                  f"{100 * res.augmented:.2f} % ({res.synthetic} of {res.drawn} synthetic kept; cGAN {r.steps} "
                  f"iterations, {cpu / 60:.1f} CPU-min)", flush=True)
    std = (lambda v: statistics.stdev(v) if len(v) > 1 else float("nan"))  # noqa: E731
    first = variants[0]
    alone = [100 * row[0][first].real_only for row in rows]
    per = "; ".join(f"seed {row[3]}: {a:.2f}" for row, a in zip(rows, alone, strict=True))
    iters = statistics.mean(row[1] for row in rows)
    records = [record("LeNet, real subset only", "test accuracy", statistics.mean(alone), "%", std=std(alone),
                      seeds=len(rows), real=rows[0][0][first].real, synthetic=0,
                      note=f"{args.per_class} digits per class; {per}")]
    for v in variants:
        both = [100 * row[0][v].augmented for row in rows]
        gains = [b - a for a, b in zip(alone, both, strict=True)]
        per = "; ".join(f"seed {row[3]}: {b:.2f}" for row, b in zip(rows, both, strict=True))
        records += [
            record(f"LeNet, real + {describe(v)}", "test accuracy", statistics.mean(both), "%",
                   std=std(both), reference=statistics.mean(alone), seeds=len(rows),
                   synthetic=statistics.mean(row[0][v].synthetic for row in rows),
                   note=f"cGAN trained {args.minutes:g} min on the same subset ({iters:.0f} iterations"
                        f"{f', EMA {args.ema_decay:g}' if args.ema_decay else ''}"
                        f"{f', lr {args.lr:g}' if args.lr else ''}{''.join(', ' + a for a in args.sets)}); "
                        f"LeNet {args.steps} steps of batch 64 in both conditions"
                        f"{', cosine learning rate' if args.lr_schedule == 'cosine' else ''}"
                        f"{f', mean of {args.lenet_seeds} LeNets' if args.lenet_seeds > 1 else ''}; {per}"),
            record(f"gain, {describe(v)}", "test accuracy", statistics.mean(gains), "points",
                   std=std(gains), seeds=len(rows), note="goal: a gain beyond the seeds' spread"),
        ]
    if diverged:
        records.append(record("cGAN runs stopped by the divergence guard", "seeds", len(diverged), "",
                              note=f"seeds {diverged}: left out of the means"))
    write_results(args.name, records, notes=f"G10: a cGAN trained on {args.per_class} MNIST digits per class "
                  f"augments LeNet's training set ({', '.join(describe(v) for v in variants)}); accuracy on "
                  f"the 10,000 test digits, mean ± std over {args.seeds} seeds (subset, cGAN and LeNet seeded alike).")


if __name__ == "__main__":
    main()
