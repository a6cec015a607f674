"""The long character-LM run of issue 25: test bits per character on kjv at a budget of at most 3 CPU-hours, with
its curve (goal ≤ 1.45 bits/char).

One LSTM LM (``lstm-lm`` with ``--hidden`` units in each of 2 layers, dropout ``--dropout``, Adam ``--lr`` decayed
by a cosine to 0 over ``--steps`` iterations of 64 streams × 128 characters, gradients clipped at 1) trained on
``--threads`` threads (1 by default: a CPU-minute is then a minute of wall clock, and the other core stays free).
The run lives in ``--run`` and survives being stopped: started again with the same command, the script resumes
it from its ``last.ckpt`` (bit-exact, the carried state included) and keeps counting CPU time from where the
curve stopped (the CPU time spent since the last curve row before a stop, at most ``--every`` iterations, is not
counted; the iterations redone after a resume are).

Recorded (``<run>/curve.csv``, then ``RESULTS.md``): every ``--every`` iterations the cumulative CPU-minutes, the
characters seen and the training bits/char of the batch; at each validation the validation bits/char (the
5 % of verses before the test part, read as one stream); at the end the test bits/char (``genlab eval``'s
``loss_bits``) next to the compressors and Kneser–Ney on the same split (``benchmarks/text_baselines.py``).

    python benchmarks/text_lm_long.py                       # start or resume, until --steps
    python benchmarks/text_lm_long.py --report-only         # write what the curve holds so far
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lightning as L  # noqa: E402
import torch  # noqa: E402
from common import command_line, cpu_seconds, record, write_results  # noqa: E402

from genlab.evaluation import evaluate  # noqa: E402
from genlab.rundir import RunDir  # noqa: E402
from genlab.training.config import TrainConfig  # noqa: E402
from genlab.training.run import resume_config, train  # noqa: E402

FIELDS = ("cpu_minutes", "iteration", "characters", "train_bits", "val_bits")


def read_curve(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


class CurveFile(L.Callback):
    """Appends (cumulative CPU-minutes, iteration, characters, training bits of the batch) every ``every``
    iterations and the validation bits after each validation to ``path``; ``cpu0``: CPU-minutes of earlier
    sessions."""

    def __init__(self, path: Path, every: int, cpu0: float, chars_per_step: int) -> None:
        self.path, self.every, self.cpu0, self.chars_per_step = path, every, cpu0, chars_per_step
        self.start, self.next = cpu_seconds(), 0
        if not path.is_file():
            with path.open("w", newline="") as f:
                csv.writer(f).writerow(FIELDS)

    def minutes(self) -> float:
        return self.cpu0 + (cpu_seconds() - self.start) / 60

    def _append(self, row: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([row.get(k, "") for k in FIELDS])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        it = pl_module.iteration
        if it >= self.next:  # the first call past each multiple of ``every`` (a chunk holds several iterations)
            self.next = (it // self.every + 1) * self.every
            self._append({"cpu_minutes": f"{self.minutes():.3f}", "iteration": it,
                          "characters": it * self.chars_per_step,
                          "train_bits": f"{float(pl_module.last_terms['bits']):.4f}"})

    def on_validation_end(self, trainer, pl_module) -> None:
        bits = trainer.callback_metrics.get("val/bits")
        if bits is not None and not trainer.sanity_checking:
            it = pl_module.iteration
            self._append({"cpu_minutes": f"{self.minutes():.3f}", "iteration": it,
                          "characters": it * self.chars_per_step, "val_bits": f"{float(bits):.4f}"})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", default="runs/bench-lstm-lm-long")
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--dropout", type=float, default=0.25)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--steps", type=int, default=2500, help="iterations of 64 × 128 characters (the cosine's length)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--every", type=int, default=20)
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--name", default="text_lm_long")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    run, curve_path = Path(args.run), Path(args.run + "-curve.csv")
    rows = read_curve(curve_path)
    cpu0 = float(rows[-1]["cpu_minutes"]) if rows else 0.0
    finished = run.is_dir() and RunDir(run).finished()
    if not args.report_only and not finished:
        curve = CurveFile(curve_path, args.every, cpu0, chars_per_step=64 * 128)
        if RunDir(run).last_checkpoint.is_file():
            print(f"resuming {run} at {cpu0:.1f} CPU-min", flush=True)
            train(resume_config(run), resume=True, callbacks=[curve])
        else:
            cfg = TrainConfig(model="lstm-lm", max_steps=args.steps, epochs=-1, lr=args.lr, lr_schedule="cosine",
                              out=str(run), quiet=True, num_samples=0, checkpoint_minutes=5.0,
                              model_options={"hidden": args.hidden, "dropout": args.dropout})
            train(cfg, callbacks=[curve])
        rows = read_curve(curve_path)
    records = []
    train_rows = [r for r in rows if r["train_bits"]]
    for r in train_rows[:: max(1, len(train_rows) // 12)] + train_rows[-1:]:
        records.append(record("lstm-lm long: curve", "training bits/char (batch)", float(r["train_bits"]),
                              "bits/char", cpu_minutes=float(r["cpu_minutes"]), characters=int(r["characters"])))
    for r in (r for r in rows if r["val_bits"]):
        records.append(record("lstm-lm long: curve", "validation bits/char", float(r["val_bits"]), "bits/char",
                              cpu_minutes=float(r["cpu_minutes"]), characters=int(r["characters"])))
    if (run / "model").is_dir():  # the final model, or (--report-only before the end) the last validation's
        t0 = time.perf_counter()
        test = evaluate(RunDir(run).load_model(), "kjv", ["loss"])
        last = rows[-1]
        done = "" if RunDir(run).finished() else " (so far: the last validation's model)"
        records.append(record("lstm-lm long on kjv" + done, "test bits/char", test["loss_bits"], "bits/char",
                              reference=1.45, cpu_minutes=float(last["cpu_minutes"]),
                              characters=int(last["characters"]),
                              note="reference: the goal; bz2 1.940, xz 1.945, KN-9 1.786 (text_baselines)"))
        print(f"test {test['loss_bits']:.3f} bits/char after {float(last['cpu_minutes']):.1f} CPU-min "
              f"(evaluated in {time.perf_counter() - t0:.0f} s)", flush=True)
    write_results(args.name, records, command_line(),
                  notes=f"Host: {os.cpu_count()} cores, {args.threads} thread(s); CPU-minutes = user + system time of "
                        f"the training process, summed over its sessions. Run folder {args.run}.")


if __name__ == "__main__":
    main()
