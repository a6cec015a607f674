"""From convolution to attention at model level (A10): LeNet with and without a non-local block, on MNIST.

The same registry row (``lenet``), data, seeds and epochs; ``--set model.non_local=true`` adds a non-local block
(Wang et al. 2018) after the first conv block, so every cell of the 14 × 14 map reads every other one where a
5 × 5 convolution reads its neighbourhood. Reported per variant: test accuracy (10,000 images; mean and std over
``--seeds``), training seconds, parameters; and, on the trained networks, how far a change reaches after the first
block: the share of the first block's output cells that move when only the top-left 4 × 4 pixels of the test
images are inverted (a convolution's cells 13 away cannot move; a non-local block's can).

    python benchmarks/non_local.py --epochs 2 --seeds 0 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import command_line, record, write_results  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.evaluation.metrics import evaluate  # noqa: E402
from genlab.training.config import TrainConfig  # noqa: E402
from genlab.training.run import train  # noqa: E402


@torch.no_grad()
def reach(model, x: torch.Tensor) -> float:
    """Share of the first block's output cells (all channels) that change by more than 1e-4 when the top-left
    4 × 4 pixels of ``x`` are inverted."""
    model.eval()
    first = model.conv[: 5 if model.config.non_local else 4]  # conv, norm, ReLU, pool (+ the non-local block)
    far = x.clone()
    far[:, :, :4, :4] = 1 - far[:, :, :4, :4]
    return ((first(x) - first(far)).abs() > 1e-4).float().mean().item()


def run(non_local: bool, seed: int, epochs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = train(TrainConfig(model="lenet", data="mnist", epochs=epochs, seed=seed, lr_schedule="cosine",
                                   out=f"{tmp}/run", quiet=True, num_samples=0,
                                   model_options={"non_local": non_local}))
        seconds = time.perf_counter() - t0
    accuracy = evaluate(result.model, "mnist", ["accuracy"])["accuracy"]
    x = load("mnist", split="test").x[:500]
    return {"accuracy": accuracy, "seconds": seconds, "reach": reach(result.model, x),
            "parameters": sum(p.numel() for p in result.model.parameters())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--name", default="non_local")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    records = []
    for non_local in (False, True):
        name = "LeNet + non-local block (A10)" if non_local else "LeNet"
        runs = []
        for seed in args.seeds:
            runs.append(run(non_local, seed, args.epochs))
            print(f"{name}, seed {seed}: test accuracy {runs[-1]['accuracy']:.4f}, reach {runs[-1]['reach']:.3f} "
                  f"({runs[-1]['seconds']:.0f} s)", flush=True)
        for key, metric, unit in (("accuracy", "test accuracy", "share"), ("reach", "cells moved by the corner",
                                                                           "share")):
            values = [r[key] for r in runs]
            records.append(record(name, metric, statistics.mean(values), unit, seeds=len(runs),
                                  std=round(statistics.stdev(values), 4) if len(values) > 1 else None,
                                  per_seed="/".join(f"{v:.4f}" for v in values),
                                  seconds=round(statistics.mean(r["seconds"] for r in runs), 1),
                                  parameters=runs[0]["parameters"]))
    write_results(args.name, records, command_line(), notes=(
        f"lenet on MNIST, {args.epochs} epochs (cosine), seeds {args.seeds}, {torch.get_num_threads()} threads; test "
        "accuracy on the 10,000 test images; 'cells moved by the corner': the share of the first block's output "
        "cells (channels × 14 × 14) that change when only the top-left 4 × 4 pixels of 500 test images are "
        "inverted — the receptive field made visible; seconds: training time per seed."))


if __name__ == "__main__":
    main()
