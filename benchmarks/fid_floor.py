"""The FID floor on MNIST: real test images against real training images, at n = 1k, 5k, 10k.

    .venv/bin/python benchmarks/fid_floor.py

No generator can be expected to beat the distance between two samples of real data at the same n;
FID is biased upwards for small n, so a model's FID means something only next to this floor at its n.
Features: genlab's shipped LeNet (``genlab.metrics.fid``). For each n, ``seeds`` disjoint-seeded
random subsets of the 10k test images are compared with random subsets of the 60k training images
(split ``train-full``); the spread over seeds is reported as ``std``. KID at n = 10k is added.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, write_results  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.metrics.fid import fid, kid  # noqa: E402

log = logging.getLogger("fid_floor")


def subset(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]


def fid_floor(real: torch.Tensor, train_x: torch.Tensor, *, seeds: int) -> tuple[float, float]:
    """Mean and std over ``seeds`` of the FID of ``real`` against random training subsets of its size.

    The floor a perfect generator would score against the same ``real`` images: i.i.d. draws from the
    data. The first n training images are not such a draw: ``test[:1000]`` against ``train[:1000]``
    scores 35, against random training subsets 21 (LeNet features, measured 2026-11-30).
    """
    values = [float(fid(real, subset(train_x, len(real), seed))) for seed in range(seeds)]
    return statistics.mean(values), statistics.stdev(values)


def draw(model, n: int, *, seed: int, **kwargs) -> tuple[torch.Tensor, float]:
    """``n`` samples (250 at a time) and the seconds per sample."""
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    x = torch.cat([model.sample(min(250, n - i), generator=g, **kwargs) for i in range(0, n, 250)])
    return x, (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)

    test = load("mnist", split="test").x  # (10000, 1, 28, 28)
    train = load("mnist", split="train-full").x  # (60000, 1, 28, 28)
    records = []
    for n in args.sizes:
        values, secs = [], []
        for seed in range(args.seeds):
            real, fake = subset(test, n, seed), subset(train, n, 1000 + seed)
            t0 = time.perf_counter()
            values.append(float(fid(real, fake)))
            secs.append(time.perf_counter() - t0)
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        log.info("n=%d  FID %.4f ± %.4f  (%d seeds, %.1f s each)", n, statistics.mean(values), std,
                 len(values), statistics.median(secs))
        records.append(record("mnist test vs train", "fid", statistics.mean(values), "", n_real=n, n_fake=n,
                              std=std, seeds=len(values), seconds=statistics.median(secs)))
    n = max(args.sizes)
    t0 = time.perf_counter()
    k = kid(subset(test, n, 0), subset(train, n, 1000), subset_size=1000, subsets=100)
    log.info("n=%d  KID %.5f ± %.5f (subset 1000 × 100)", n, k.mean, k.std)
    records.append(record("mnist test vs train", "kid", k.mean, "", n_real=n, n_fake=n, std=k.std, seeds=1,
                          seconds=time.perf_counter() - t0))
    write_results("fid_floor", records, notes="FID/KID in the feature space of genlab's shipped LeNet "
                  "(128-d penultimate layer). Real-vs-real: the best any model can score at that n.")


if __name__ == "__main__":
    main()
