"""Grapheme-to-phoneme conversion on cmudict (issue 25): word error rate and phoneme error rate of the attention RNN
(``seq2seq-rnn``, R9) and the transformer encoder–decoder (``seq2seq-transformer``, A6) on the test words, greedy and
beam search with 5 hypotheses.

Protocol: cmudict without stress marks, split by word (seeded 90/5/5: 112,434 / 6,246 / 6,246 words); a word's
alternative pronunciations are one group and any of them counts as correct (``genlab.metrics.sequence``). Each model
trains with its registry recipe for ``--epochs`` epochs (cosine decay of the learning rate) on ``--threads`` threads,
the validation loss choosing nothing (the last weights are evaluated). Anchors: 20–24 % WER on the older PRONALSYL
split (Yao & Zweig 2015, BLSTM 23.55 %; Rao et al. 2015, 21.3 %), ~31–34 % reported for the current cmudict without
stress (CMUSphinx g2p-seq2seq). Goal: WER ≤ 28 %, PER ≤ 7 %.

    python benchmarks/g2p.py --model seq2seq-rnn --epochs 6            # 27.7 % / 6.45 % (beam 5), 27.3 CPU-min
    python benchmarks/g2p.py --model seq2seq-transformer --epochs 24   # 27.6 % / 6.72 % (beam 5), 92.1 CPU-min
    python benchmarks/g2p.py --load runs/bench-g2p-seq2seq-transformer --split val --length-penalty 0,0.6,1

``--load RUN`` evaluates a trained run instead of training one; ``--length-penalty`` ranks beam search's finished
hypotheses by log-probability / ((5 + |y|) / 6)^α for each α listed (choose α on ``--split val``, then report it
once on test).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import command_line, cpu_seconds, record, write_results  # noqa: E402

from genlab.evaluation import evaluate  # noqa: E402
from genlab.training.config import TrainConfig  # noqa: E402
from genlab.training.run import train  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="seq2seq-rnn", choices=["seq2seq-rnn", "seq2seq-transformer"])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--beams", default="1,5")
    p.add_argument("--run", default=None, help="run folder (default runs/bench-g2p-<model>)")
    p.add_argument("--load", default=None, help="evaluate this trained run (no training)")
    p.add_argument("--split", default="test", choices=["val", "test"])
    p.add_argument("--length-penalty", default="0", help="α of beam search's length penalty, comma-separated")
    p.add_argument("--set", action="append", default=[], help="model option NAME=VALUE (e.g. hidden=384)")
    p.add_argument("--name", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    options = {k: json.loads(v) if v[:1].isdigit() or v in ("true", "false") else v
               for k, _, v in (s.partition("=") for s in args.set)}
    model, trained = trained_model(args, options)
    records = []
    for beam, alpha in decodings(args.beams, args.length_penalty):
        t1 = time.perf_counter()
        figures = evaluate(model, "cmudict", ["wer"], split=args.split, beam=beam, length_penalty=alpha)
        seconds = time.perf_counter() - t1
        label = f"{args.model} beam {beam}" + (f" lp {alpha:g}" if alpha else "") + (" (val)" if args.split == "val"
                                                                                      else "")
        for metric, goal in (("wer", 0.28), ("per", 0.07)):
            records.append(record(label, metric, figures[metric], "fraction", reference=goal, words=figures["wer_n"],
                                  **trained, decode_seconds=round(seconds, 1), parameters=model.num_parameters(),
                                  note="reference: the goal"))
        print(f"  {label}: WER {figures['wer']:.4f}, PER {figures['per']:.4f} ({figures['wer_n']} words, "
              f"{seconds:.0f} s)", flush=True)
    name = args.name or f"g2p_{args.model.replace('-', '_')}"
    write_results(name, records, command_line(),
                  notes=f"Host: {os.cpu_count()} cores, {args.threads} thread(s); CPU-minutes = user + system time of "
                        f"the process during training. "
                        + (f"Evaluated the trained run {args.load}." if args.load
                           else f"Options: {options or 'the registry recipe'}."))


def trained_model(args: argparse.Namespace, options: dict) -> tuple:
    """The model to evaluate and what its training cost: the run ``--load`` names (its ``epochs`` from its config), or
    one trained now with the registry recipe and ``options``."""
    if args.load:
        from genlab.rundir import RunDir

        run = RunDir(Path(args.load))
        config = run.read_config()
        args.model = config.get("model", args.model)
        return run.load_model(), {"epochs": config.get("epochs"), "run": args.load}
    out = args.run or f"runs/bench-g2p-{args.model}"
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    run = train(TrainConfig(model=args.model, data="cmudict", epochs=args.epochs, lr_schedule="cosine", out=out,
                            overwrite=True, quiet=True, model_options=options))
    cpu, wall = (cpu_seconds() - cpu0) / 60, (time.perf_counter() - t0) / 60
    print(f"{args.model}: trained {args.epochs} epochs in {cpu:.1f} CPU-min ({wall:.1f} min wall)", flush=True)
    return run.model, {"epochs": args.epochs, "cpu_minutes": round(cpu, 1), "wall_minutes": round(wall, 1)}


def decodings(beams: str, penalties: str) -> list[tuple[int, float]]:
    """(beam, α) pairs: greedy once, each beam > 1 with each length-penalty α."""
    alphas = [float(a) for a in penalties.split(",")]
    return [(b, a) for b in (int(x) for x in beams.split(",")) for a in (alphas if b > 1 else [0.0])]


if __name__ == "__main__":
    main()
