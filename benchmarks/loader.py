"""Throughput of one epoch of MNIST (55,000 training images, batch 128, shuffled): genlab's
``TensorLoader`` against ``DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)``, measured
side by side in one process, at 2 torch threads and again at 1 (``--threads``).

    python benchmarks/loader.py [--repeat 3] [--threads 2,1]

The machine's 1-minute load average is recorded with each row. On a busy machine (more runnable
processes than cores) OpenMP threads that busy-wait make every multi-threaded torch kernel slow
(measured: a 128-row index_select went from ~0.1 ms to 1.5-20 ms at 2 threads); run with
``OMP_WAIT_POLICY=PASSIVE`` there, which the command line in RESULTS.md then shows.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.common import command_line, record, timeit, write_results
from genlab.data import TensorLoader, load

BATCH = 128
REFERENCE = "DataLoader(TensorDataset)"


def epoch(loader) -> int:
    """Iterate one epoch, touching every batch; returns the number of samples seen."""
    n = 0
    for batch in loader:
        n += len(batch["x"] if isinstance(batch, dict) else batch[0])
    return n


def measure(x: torch.Tensor, y: torch.Tensor, threads: int, repeat: int) -> list[dict]:
    """One record per loader at ``threads`` torch threads; ratio = samples/s over the DataLoader's."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    loaders = {
        REFERENCE: DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True),
        "TensorLoader": TensorLoader({"x": x, "y": y}, batch_size=BATCH, seed=0),
        "TensorLoader binarize=dynamic": TensorLoader({"x": x, "y": y}, batch_size=BATCH, seed=0, binarize="dynamic"),
    }
    n = len(x)
    assert all(epoch(loader) == n for loader in loaders.values())
    load1 = os.getloadavg()[0]
    rate = {name: n / timeit(lambda l=loader: epoch(l), repeat=repeat) for name, loader in loaders.items()}
    return [record(name, "throughput, 1 epoch MNIST train, batch 128", r, "samples/s",
                   reference=rate[REFERENCE], threads=threads, samples=n, load1=round(load1, 1))
            for name, r in rate.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed epochs per loader (median reported)")
    parser.add_argument("--threads", default="2,1", help="comma-separated torch thread counts")
    args = parser.parse_args()
    data = load("mnist", "train")
    counts = [int(t) for t in args.threads.split(",")]
    records = []
    for threads in counts:
        records += measure(data.x, data.y, threads, args.repeat)  # x (55000, 1, 28, 28), y (55000,)
    torch.set_num_threads(counts[0])  # the headline thread count, as RESULTS.md's header reports it
    notes = (f"reference = torch {REFERENCE} with batch_size=128, shuffle=True; ratio = samples/s over the "
             "reference's at the same thread count; load1 = 1-minute load average of the machine "
             f"({os.cpu_count()} cores) when measured.")
    policy = os.environ.get("OMP_WAIT_POLICY")
    command = (f"OMP_WAIT_POLICY={policy} " if policy else "") + command_line()
    write_results("loader", records, command=command, notes=notes)
    for r in records:
        sys.stdout.write(f"{r['threads']} thr  {r['name']:30s} {r['value']:>10,.0f} samples/s  "
                         f"ratio {r['ratio']:5.1f}x  (load {r['load1']})\n")


if __name__ == "__main__":
    main()
