"""pix2pix's ablation (Isola et al. 2017, Table 1) on the masked-digit task: L1 only, cGAN only, L1 + cGAN.

Each variant (``Pix2Pix(loss=...)``, otherwise the registry defaults) is trained for ``--minutes`` on
``mnist-masked`` (the lower half of each digit masked; the target is the whole digit) and evaluated on the
test pairs with ``genlab eval``'s ``translation`` metric: the L1 distance to the truth (per pixel, [0, 1]),
the FID of the completed digits against the true ones (LeNet features), and the share of completions the
shipped LeNet labels as the true digit (the masked sources' share beside it). Goal: L1 + cGAN's FID ≤ ½ of
L1-only's, with LeNet accuracy within 2 points of it.

    python benchmarks/pix2pix.py --minutes 5 --name pix2pix
    python benchmarks/pix2pix.py --minutes 6 --variants "L1 only" "L1 + cGAN" --name pix2pix_long
    python benchmarks/pix2pix.py --minutes 10 --variants "L1 only" "L1 + cGAN" --name pix2pix_10min
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, record, timed_train, write_results  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.evaluation.metrics import eval_translation, outputs_all  # noqa: E402
from genlab.plots import image_grid  # noqa: E402

VARIANTS = {"L1 only": "l1", "cGAN only": "cgan", "L1 + cGAN": "l1+cgan"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--n", type=int, default=10_000, help="test pairs evaluated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                   help="rows to train (the goal's ratio needs 'L1 only' and 'L1 + cGAN')")
    p.add_argument("--name", default="pix2pix")
    args = p.parse_args()
    torch.set_num_threads(2)
    test = load("mnist-masked", split="test")
    records, grids = [], []
    for label, loss in VARIANTS.items():
        if label not in args.variants:
            continue
        r, cpu = timed_train("pix2pix", "mnist-masked", args.minutes, seed=args.seed, model_options={"loss": loss})
        f = eval_translation(r.model, test, n=args.n, seed=args.seed)
        grids.append(outputs_all(r.model, test.subset(torch.arange(10)), seed=args.seed))
        common = {"iterations": r.steps, "cpu_min": round(cpu / 60, 1), "n": f["translation_n"]}
        records += [record(label, "L1 to the truth", f["l1"], "per pixel", **common),
                    record(label, "FID of completions", f["fid"], "", **common),
                    record(label, "LeNet accuracy", 100 * f["accuracy"], "%", reference=100 * f["source_accuracy"],
                           **common, note="reference: LeNet on the masked sources")]
        print(f"{label}: L1 {f['l1']:.4f}, FID {f['fid']:.2f}, accuracy {100 * f['accuracy']:.2f} % "
              f"(sources {100 * f['source_accuracy']:.2f} %), {r.steps} iterations", flush=True)
    src, truth = test.fields["source"][:10], test.x[:10]
    image_grid(torch.cat([src, *grids, truth]), RESULTS_DIR / f"{args.name}_completions.png", nrow=10)
    by = {(r["name"], r["metric"]): r["value"] for r in records}
    if {"L1 only", "L1 + cGAN"} <= set(args.variants):
        fid_ratio = by[("L1 + cGAN", "FID of completions")] / by[("L1 only", "FID of completions")]
        gap = by[("L1 + cGAN", "LeNet accuracy")] - by[("L1 only", "LeNet accuracy")]
        records.append(record("L1 + cGAN vs L1 only", "FID ratio", fid_ratio, "", note="goal ≤ 0.5"))
        records.append(record("L1 + cGAN vs L1 only", "LeNet accuracy difference", gap, "points",
                              note="goal: within 2 points"))
    write_results(args.name, records, notes=f"pix2pix Table 1 ablation on mnist-masked, {args.minutes:g} min of "
                  f"training each; rows of the grid results/{args.name}_completions.png: sources, "
                  f"{', '.join(v for v in VARIANTS if v in args.variants)}, truths.")


if __name__ == "__main__":
    main()
