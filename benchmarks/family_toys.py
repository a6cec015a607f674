"""The first models of the families beyond images, trained and evaluated as a user would (issue 24's toys):

- ``bigram`` on ``kjv``: test bits per character (a character bigram model's entropy rate: ≈ 3.3 bits);
- ``bow-qa`` on generated bAbI task 1: test accuracy against chance (1 / 6 places) — bag of words, no attention;
- ``table-marginals`` on ``cars``: test NLL per row (nats), against the untrained model's;
- ``pca`` and ``ppca`` on MNIST, fitted in closed form: fit time, reconstruction error, exact test log p(x).

Each is trained by ``genlab.training.train`` (the CLI's resolution), evaluated by ``genlab.evaluation.evaluate``
on the test split with its default metric, and timed (wall clock of the training call on this machine).

    python benchmarks/family_toys.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import command_line, record, write_results  # noqa: E402

from genlab.evaluation import evaluate  # noqa: E402
from genlab.training.config import TrainConfig  # noqa: E402
from genlab.training.run import train  # noqa: E402

# name, data, training options, the test figure, its unit, the reference (chance or untrained), its note
RUNS = [
    ("bigram", "kjv", {"epochs": 2}, "loss_bits", "bits/char", None, "test bits per character"),
    ("bow-qa", "babi", {"epochs": 20}, "accuracy", "share", 1 / 6, "reference: chance, 1 of 6 places"),
    ("table-marginals", "cars", {"epochs": 30, "lr_schedule": "cosine"}, "loss", "nats/row", "untrained",
     "reference: the untrained model"),
    ("pca", "mnist", {}, "loss", "squared error/image", None, "32 components, closed form"),
    ("ppca", "mnist", {}, "elbo", "nats/image", None, "exact log p(x) (ELBO at the exact posterior), closed form"),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="family_toys")
    p.add_argument("--only", nargs="*", default=None, help="model names to run (default: all)")
    args = p.parse_args()
    torch.set_num_threads(2)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data, options, figure, unit, reference, note in RUNS:
            if args.only and name not in args.only:
                continue
            t0 = time.perf_counter()
            run = train(TrainConfig(model=name, data=data, out=f"{tmp}/{name}", quiet=True, num_samples=4, **options))
            seconds = time.perf_counter() - t0
            result = evaluate(run.model, data, None, data_options=_data_options(run.run_dir))
            if reference == "untrained":
                from genlab.data import load

                untrained = type(run.model).for_data(load(data, split="train"))
                reference = evaluate(untrained, data, ["loss"])["loss"]
            records.append(record(f"{name} on {data}", figure, result[figure], unit, reference=reference,
                                  seconds=round(seconds, 1), iterations=run.steps, note=note))
            print(f"{name:<16} {figure} = {result[figure]:.4g} {unit}  ({seconds:.1f} s)", flush=True)
    write_results(args.name, records, command_line(),
                  notes="The toys of issue 24 (text, QA, tables, closed-form fits): trained with "
                        "genlab.training.train, evaluated on the test split with each model's default metric; "
                        "seconds = wall clock of the train() call, data loading and the final save included.")


def _data_options(run_dir: Path) -> dict:
    from genlab.rundir import RunDir

    return RunDir(run_dir).data_options(None)


if __name__ == "__main__":
    main()
