"""Character LMs on kjv (issue 25): test bits per character against CPU-minutes, and the training speed of the
LSTM LM against a hand-written loop on ``torch.nn.LSTM`` of the same size, side by side.

(a) ``--part quality``: trains ``--model`` (lstm-lm by default, its registry recipe: 2 × 512 LSTM, Adam 2e-3,
64 streams × 128 characters, clip 1) for ``--minutes`` of wall clock with ``genlab.training.train``; records the
training bits/char every 20 iterations against the CPU time of the process (user + system, both threads: CPU-
minutes) — in the first epoch every batch is text the model has not seen — and the test bits/char at the end
(``genlab eval``'s ``loss_bits``: the test split read as one stream, the state carried). Anchors: the compressors
given the training text as context (``benchmarks/text_baselines.py``: bz2 1.940, xz 1.945, gzip 2.531
bits/char; Kneser–Ney order 7: 1.797) and, from the issue, a plain PyTorch loop (2-layer LSTM, 512 units,
64 × 128, Adam 2e-3): 2.00 bits/char after 7 minutes.

(b) ``--part speed``: interleaved pairs of 20 training steps each, genlab's ``RecurrentLM`` (through the
``ObjectiveSystem``'s step: forward, backward, clip, Adam) and a bare loop on ``torch.nn.LSTM`` with the same
sizes, batch and optimizer; the median pair's time ratio and the spread (goal ≤ 1.05).

    python benchmarks/text_lm.py --part quality --minutes 15
    python benchmarks/text_lm.py --part quality --model transformer-lm --minutes 15 --threads 1 --set attention=linear
    python benchmarks/text_lm.py --part speed --pairs 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lightning as L  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from common import command_line, cpu_seconds, record, write_results  # noqa: E402
from torch import nn  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.evaluation import evaluate  # noqa: E402
from genlab.training.config import TrainConfig  # noqa: E402
from genlab.training.run import train  # noqa: E402

BITS = 1 / 0.6931471805599453  # nats → bits


class Curve(L.Callback):
    """(CPU seconds, wall seconds, characters seen, training bits/char) every ``every`` iterations."""

    def __init__(self, every: int = 20) -> None:
        self.every, self.next, self.rows, self.t0, self.cpu0 = every, every, [], time.perf_counter(), cpu_seconds()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        it = pl_module.iteration
        if it >= self.next:  # at the first call past each multiple of ``every`` (a chunk holds several iterations)
            self.next = (it // self.every + 1) * self.every
            bits = float(pl_module.last_terms["bits"])
            tokens = (batch[0] if isinstance(batch, list | tuple) else batch)["tokens"]  # a chunk: its batches
            chars = it * tokens.shape[0] * (tokens.shape[1] - 1)
            self.rows.append((cpu_seconds() - self.cpu0, time.perf_counter() - self.t0, chars, bits))


def quality(args, records: list[dict]) -> None:
    curve = Curve()
    with tempfile.TemporaryDirectory() as tmp:
        options = {k: v if not v.replace(".", "").isdigit() else float(v) if "." in v else int(v)
                   for k, _, v in (s.partition("=") for s in args.set)}
        run = train(TrainConfig(model=args.model, max_time=f"{args.minutes}m", epochs=-1, out=f"{tmp}/run",
                                quiet=True, num_samples=0, seed=args.seed, model_options=options), callbacks=[curve])
        test = evaluate(run.model, "kjv", ["loss"])
    cpu, wall, chars, _ = curve.rows[-1]
    label = args.model + "".join(f" {s}" for s in args.set)
    for c, w, n, bits in curve.rows[:: max(1, len(curve.rows) // 12)] + curve.rows[-1:]:
        records.append(record(f"{label} curve", "training bits/char", bits, "bits/char",
                              cpu_minutes=round(c / 60, 2), wall_minutes=round(w / 60, 2), characters=n))
    records.append(record(f"{label} on kjv", "test bits/char", test["loss_bits"], "bits/char",
                          reference=1.94,
                          cpu_minutes=round(cpu / 60, 1), wall_minutes=round(wall / 60, 1), characters=chars,
                          iterations=run.steps,
                          note="reference: bz2 -9 given the training text (text_baselines: 1.940)"))
    print(f"{args.model}: test {test['loss_bits']:.3f} bits/char after {cpu / 60:.1f} CPU-min "
          f"({wall / 60:.1f} min wall, {chars / 1e6:.1f} M characters)", flush=True)


class BareLSTM(nn.Module):
    """The same network as genlab's LSTM LM, on ``torch.nn.LSTM``."""

    def __init__(self, V: int, E: int, H: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, E, padding_idx=0)
        self.rnn = nn.LSTM(E, H, layers, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(H, V)

    def forward(self, tokens, state):
        h, state = self.rnn(self.embed(tokens[:, :-1]), state)
        loss = F.cross_entropy(self.head(self.drop(h)).flatten(0, 1), tokens[:, 1:].flatten())
        return loss, tuple(s.detach() for s in state)


def speed(args, records: list[dict]) -> None:
    from genlab.models.text import RecurrentLM

    data = load("kjv", split="train")
    loader = data.loader(64, order="stream")
    batches = [b["tokens"] for _, b in zip(range(args.steps), loader, strict=False)]
    genlab_model = RecurrentLM.for_data(data)
    c = genlab_model.config
    bare = BareLSTM(len(c.vocabulary), c.embed_dim, c.hidden, c.num_layers, c.dropout)

    def genlab_steps() -> float:
        opt = torch.optim.Adam(genlab_model.parameters(), lr=2e-3)
        state, t0 = None, time.perf_counter()
        for tokens in batches:
            out = genlab_model(tokens, state=state)
            state = tuple(s.detach() for s in out.state)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(genlab_model.parameters(), 1.0)
            opt.step()
        return time.perf_counter() - t0

    def bare_steps() -> float:
        opt = torch.optim.Adam(bare.parameters(), lr=2e-3)
        state, t0 = None, time.perf_counter()
        for tokens in batches:
            loss, state = bare(tokens, state)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(bare.parameters(), 1.0)
            opt.step()
        return time.perf_counter() - t0

    genlab_steps(), bare_steps()  # warm-up
    pairs = []
    for i in range(args.pairs):
        g, b = (genlab_steps(), bare_steps()) if i % 2 == 0 else tuple(reversed((bare_steps(), genlab_steps())))
        pairs.append((g, b))
    ratios = sorted(g / b for g, b in pairs)
    g, b = sorted(pairs, key=lambda p: p[0] / p[1])[len(pairs) // 2]
    chars = args.steps * 64 * 128
    records.append(record("lstm-lm vs torch.nn.LSTM loop", "training time", g, "s", reference=b,
                          note=f"{args.steps} steps of 64 × 128 characters; median of {args.pairs} interleaved "
                               f"pairs, ratios {', '.join(f'{r:.3f}' for r in ratios)} (goal ≤ 1.05)"))
    records.append(record("lstm-lm", "throughput", chars / g, "characters/s", reference=chars / b))
    print(f"genlab/bare median pair {g / b:.3f} (spread {ratios[0]:.3f}–{ratios[-1]:.3f}); "
          f"{chars / g:,.0f} characters/s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=["quality", "speed"], default="quality")
    p.add_argument("--model", default="lstm-lm")
    p.add_argument("--minutes", type=float, default=15.0, help="wall-clock training budget (quality)")
    p.add_argument("--pairs", type=int, default=5, help="interleaved pairs (speed)")
    p.add_argument("--steps", type=int, default=20, help="training steps per timed run (speed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[],
                   help="model option NAME=VALUE (quality), e.g. attention=linear")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--name", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    records: list[dict] = []
    quality(args, records) if args.part == "quality" else speed(args, records)
    name = args.name or f"text_lm_{args.part}"
    write_results(name, records, command_line(),
                  notes=f"Host: {os.cpu_count()} cores, {args.threads} thread(s); CPU-minutes = user + system time of "
                        f"the process.")


if __name__ == "__main__":
    main()
