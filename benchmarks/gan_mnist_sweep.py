"""A short sweep of the cGAN's training options on MNIST: FID at n = 5,000 at four points of each run.

Each spec (a JSON object of ``genlab.training.TrainConfig`` overrides; ``ema_decay`` 0.999 unless given) trains
the registry's ``cgan`` for ``--minutes`` of wall time on this machine's 2 cores; the EMA weights are copied at
a quarter, a half and three quarters of the run and at its end, and each copy's 5,000 samples (500 per class)
are scored by FID against the 10,000 MNIST test images in the shipped LeNet's feature space. The point is to
rank options quickly; ``benchmarks/gan_mnist.py`` then measures the chosen ones over the full budget.

    python benchmarks/gan_mnist_sweep.py --minutes 5 '{}' '{"lr": 5e-4}' '{"lr": 1e-3}' \\
        '{"lr": 1e-3, "model_options": {"generator": {"channels": 48}, "discriminator": {"channels": 48}}}'
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, timed_train, write_results  # noqa: E402
from gan_mnist import Snapshots, draw  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.metrics.fid import fid  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("specs", nargs="+", help="JSON objects of TrainConfig overrides, one run each")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--n", type=int, default=5000, help="samples per FID (a multiple of 10)")
    p.add_argument("--name", default="gan_mnist_sweep")
    args = p.parse_args()
    torch.set_num_threads(2)
    test = load("mnist", split="test")
    y = torch.arange(10).repeat_interleave(args.n // 10)
    records = []
    for spec in args.specs:
        overrides = {"ema_decay": 0.999, **json.loads(spec)}
        snaps = Snapshots(args.minutes * 60 / 4)
        r, cpu = timed_train("cgan", "mnist", args.minutes, callbacks=[snaps], **overrides)
        curve = []
        for sec, it, model in [*snaps.taken[:3], (args.minutes * 60, r.steps, r.model)]:
            x, _ = draw(model, len(y), seed=1, y=y)
            curve.append((sec, it, float(fid(test.x, x))))
        text = ", ".join(f"{s:.0f} s ({it} it): {f:.2f}" for s, it, f in curve)
        print(f"{spec}: {text}", flush=True)
        records.append(record(spec, f"FID (n = {args.n})", curve[-1][2], "", iterations=r.steps,
                              cpu_min=round(cpu / 60, 1), note=f"curve: {text}"))
    write_results(args.name, records, notes=f"cGAN on MNIST, {args.minutes:g} wall minutes per spec (2 threads); "
                  f"FID of the EMA weights' samples at n = {args.n} against the test set, at four points of each run.")


if __name__ == "__main__":
    main()
