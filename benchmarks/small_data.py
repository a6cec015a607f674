"""The spine on a low-data subset: seconds per cGAN iteration on 20 MNIST digits per class (200 images,
3 mini-batches an epoch) when it validates on the 10,000 validation images every epoch (as it did
before ``training.validation``) against the interval it chooses itself, with the full training split
beside them. Each row trains the same cGAN for ``--iterations`` iterations, one after another in one
process (``--rounds`` interleaved rounds, the median kept).

    python benchmarks/small_data.py [--iterations 150] [--rounds 2]

The reference of each row is the full split's seconds per iteration: the ratio is what the small subset
costs per iteration on top (1.0: nothing).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import command_line, record, write_results
from genlab.training import TrainConfig, train

ROWS = {  # name → TrainConfig overrides
    "full split (50,000 images)": {},
    "20 per class, validate every epoch": {"train_per_class": 20, "val_every_epochs": 1},
    "20 per class, interval chosen (auto)": {"train_per_class": 20},
}


def seconds_per_iteration(iterations: int, **overrides) -> tuple[float, int]:
    """Wall seconds per iteration of a cGAN run of ``iterations`` iterations (the final validation and
    export included, as a user's run pays them), and the sample grids it drew."""
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(model="cgan", data="mnist", epochs=-1, max_steps=iterations, quiet=True, seed=0,
                          out=f"{d}/run", **overrides)
        r = train(cfg)
        grids = len(list((r.run_dir / "samples").glob("epoch_*")))
        return r.seconds / r.steps, grids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    times: dict[str, list[float]] = {name: [] for name in ROWS}
    grids: dict[str, int] = {}
    for r in range(args.rounds):
        for name, overrides in ROWS.items():
            s, grids[name] = seconds_per_iteration(args.iterations, **overrides)
            times[name].append(s)
            print(f"round {r}: {name}: {1000 * s:.1f} ms/iteration, {grids[name]} sample grids", flush=True)
    full = statistics.median(times["full split (50,000 images)"])
    records = [record(name, "seconds per iteration", statistics.median(t), "s", reference=full,
                      iterations=args.iterations, sample_grids=grids[name], rounds=args.rounds)
               for name, t in times.items()]
    for rec in records:
        print(f"{rec['name']}: {1000 * rec['value']:.1f} ms/iteration, ratio {rec['ratio']:.2f}")
    write_results("small_data", records, command_line(),
                  notes="cGAN (registry defaults, batch 64) on MNIST; ratio = seconds per iteration / the full "
                        "split's, measured side by side.")


if __name__ == "__main__":
    main()
