"""Speed of the transformer LM (issue 25), side by side in one run on this CPU:

(a) ``step``: one training step (forward, backward, Adam) of ``transformer-lm`` against the same-size
    ``torch.nn.TransformerEncoder`` with a causal mask, an embedding and a head (pre-norm, GELU, batch-first),
    64 × 128 characters; interleaved pairs, the median pair's ratio and the spread (goal ≤ 1.0).
(b) ``generate``: 512 tokens from a one-character prompt with the key/value cache against recomputing the whole
    context each step (``sample(cache=False)``), block_size 1024 so no window slides (goal ≥ 5×).
(c) ``long``: softmax against linear attention (A8) at context 4,096: seconds per training step (batch 1) and the
    peak resident memory of a process that runs only that (``ru_maxrss`` of a child process).

    python benchmarks/text_speed.py                                   # all three, 2 threads
    python benchmarks/text_speed.py --parts step --pairs 7 --threads 1

``--threads`` sets ``torch.set_num_threads`` (default 2, the machine's cores). ``--parts`` runs some parts only;
the rows of the others are kept from ``results/<name>.json`` (each with its own command and date there).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line, record, write_results  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.models.text import TransformerLM  # noqa: E402

ROWS = {"step": "transformer-lm vs torch.nn.TransformerEncoder",  # the record name each part writes
        "generate": "transformer-lm generation, 512 tokens",
        "long": "linear vs softmax attention, context 4,096"}


def _model(block_size: int = 128, **options) -> TransformerLM:
    return TransformerLM.for_data(load("kjv", split="val", block_size=block_size), options)


class TorchLM(nn.Module):
    """The same network on ``torch.nn.TransformerEncoder`` (pre-norm, GELU, causal mask)."""

    def __init__(self, V: int, d: int, heads: int, layers: int, ff: int, dropout: float, block: int) -> None:
        super().__init__()
        self.embed, self.pos = nn.Embedding(V, d), nn.Embedding(block, d)
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.stack = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d), enable_nested_tensor=False)
        self.head = nn.Linear(d, V)

    def forward(self, tokens):
        x = tokens[:, :-1]
        T = x.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(T)
        h = self.stack(self.embed(x) + self.pos(torch.arange(T)), mask=mask, is_causal=True)
        return F.cross_entropy(self.head(h).flatten(0, 1), tokens[:, 1:].flatten())


def step_pairs(args, records) -> None:
    genlab_model = _model()
    c = genlab_model.config
    torch_model = TorchLM(len(c.vocabulary), c.d_model, c.num_heads, c.num_layers,
                          c.dim_feedforward or 4 * c.d_model, c.dropout, c.block_size)
    batches = [b["tokens"] for _, b in zip(range(args.steps), load("kjv", split="train").loader(64), strict=False)]

    def run(model, loss) -> float:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        t0 = time.perf_counter()
        for tokens in batches:
            opt.zero_grad(set_to_none=True)
            loss(model, tokens).backward()
            opt.step()
        return time.perf_counter() - t0

    ours = lambda: run(genlab_model, lambda m, t: m(t).loss)  # noqa: E731
    theirs = lambda: run(torch_model, lambda m, t: m(t))  # noqa: E731
    ours(), theirs()  # warm-up
    pairs = [(ours(), theirs()) if i % 2 == 0 else tuple(reversed((theirs(), ours()))) for i in range(args.pairs)]
    ratios = sorted(a / b for a, b in pairs)
    a, b = sorted(pairs, key=lambda p: p[0] / p[1])[len(pairs) // 2]
    records.append(record(ROWS["step"], "training time", a, "s", reference=b,
                          note=f"{args.steps} steps of 64 × 128, d {c.d_model}, {c.num_layers} layers, "
                               f"{torch.get_num_threads()} thread(s); median of {args.pairs} pairs, ratios "
                               f"{', '.join(f'{r:.3f}' for r in ratios)} (goal ≤ 1.0)"))
    print(f"step: genlab / torch median pair {a / b:.3f} (spread {ratios[0]:.3f}–{ratios[-1]:.3f})", flush=True)


def generation(args, records) -> None:
    model = _model(block_size=1024).eval()
    times = {}
    for cache in (True, False):
        t0 = time.perf_counter()
        model.sample(1, generator=torch.Generator().manual_seed(0), tokens=512, cache=cache)
        times[cache] = time.perf_counter() - t0
    records.append(record(ROWS["generate"], "uncached / cached time", times[False] / times[True],
                          "×", note=f"cached {times[True]:.2f} s, uncached {times[False]:.2f} s (goal ≥ 5)"))
    print(f"generate: cached {times[True]:.2f} s, uncached {times[False]:.2f} s", flush=True)


def long_child(attention: str) -> None:
    """Run in a child process: 3 training steps at context 4,096, print seconds per step and peak RSS."""
    model = TransformerLM.for_data(load("kjv", split="val", block_size=4096), {"attention": attention})
    tokens = load("kjv", split="val", block_size=4096).fields["tokens"][:1]  # (1, 4097)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(tokens).loss.backward()  # warm-up
    t0 = time.perf_counter()
    for _ in range(3):
        opt.zero_grad(set_to_none=True)
        model(tokens).loss.backward()
        opt.step()
    print(json.dumps({"seconds": (time.perf_counter() - t0) / 3,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def long_context(args, records) -> None:
    out = {}
    for attention in ("softmax", "linear"):
        p = subprocess.run([sys.executable, __file__, "--child", attention, "--threads", str(args.threads)],
                           capture_output=True, text=True, timeout=1200)
        out[attention] = json.loads(p.stdout.strip().splitlines()[-1])
    for metric, unit in (("seconds", "s per step"), ("peak_mb", "MB peak RSS")):
        records.append(record(ROWS["long"], metric, out["linear"][metric], unit,
                              reference=out["softmax"][metric], note="batch 1, the default transformer-lm"))
    print(f"long: {out}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", nargs="*", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--name", default="text_speed")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        long_child(args.child)
        return
    records: list[dict] = []
    parts = {"step": step_pairs, "generate": generation, "long": long_context}
    for part in args.parts:
        parts[part](args, records)
    kept = [r for r in _previous(args.name) if r["name"] in {ROWS[p] for p in ROWS if p not in args.parts}]
    records = sorted(records + kept, key=lambda r: list(ROWS.values()).index(r["name"]))
    note = "One run, one machine (2 cores); see the module doc."
    if kept:  # results/<name>.json holds each row's own command and date
        runs = sorted({(r["command"], r["date"]) for r in kept}, key=lambda run: run[1])
        note += (f" Rows of {', '.join(p for p in ROWS if p not in args.parts)} kept from "
                 f"{'; '.join(f'`{cmd}` ({date})' for cmd, date in runs)}.")
    write_results(args.name, records, command_line(), notes=note)


def _previous(name: str) -> list[dict]:
    """The records of the last run (``results/<name>.json``), or none."""
    path = Path(__file__).resolve().parent / "results" / f"{name}.json"
    return json.loads(path.read_text())["records"] if path.exists() else []


if __name__ == "__main__":
    main()
