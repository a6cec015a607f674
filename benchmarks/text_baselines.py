"""The text baselines of issue 25, side by side on kjv's test text: test bits per character of

- general compressors given the training text as context: Python's ``bz2`` (level 9), ``lzma`` (xz, preset
  9 | PRESET_EXTREME) and ``gzip`` (level 9), ``8·(|C(context + test)| − |C(context)|) / |test|`` (also with all
  the text before the test verses, train and val, as context: bz2's figure moves with its 900 kB blocks);
- the interpolated Kneser–Ney character n-gram LM (``kn-lm``, modified KN: three discounts per order) of orders 1
  (unigram), 2 (bigram), 3, 5, 7 and 9, fitted by counting on the training text: the test text scored as ONE stream
  (``KneserNeyLM.stream_log_probs``: the history carried across row boundaries, every test character predicted
  once, the first N − 1 from the training text's tail), and, for comparison, row by row as ``genlab eval`` reads
  ``kjv``'s rows of 128 + 1 (the first N − 1 positions of each row with shorter histories).

The text is the one the models see (``genlab.data.text``): train and test verses joined by newlines; the context
of the test text is the training text and the newline that joins the two (the validation verses between them in
the Bible are left out, as a model trained on the training split never sees them). Characters only the test text
holds (``[``, ``]``) read as ``<unk>``, which the n-gram model predicts with its uniform floor.

    python benchmarks/text_baselines.py
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import lzma
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import command_line, record, write_results  # noqa: E402

from genlab.data.tensors import TensorData  # noqa: E402
from genlab.data.text import blocks, contiguous_splits, encode_characters, kjv_verses  # noqa: E402
from genlab.models.text import KneserNeyLM  # noqa: E402
from genlab.vocab import Vocabulary  # noqa: E402

# name, compress, the issue's figure (bits/char)
COMPRESSORS = [
    ("bz2 -9", lambda b: bz2.compress(b, compresslevel=9), 1.84),
    ("xz -9e (lzma)", lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME), 1.93),
    ("gzip -9", lambda b: gzip.compress(b, compresslevel=9, mtime=0), 2.53),
]
ORDERS = (1, 2, 3, 5, 7, 9)
ROW = 128  # kjv's default block_size: the rows genlab eval reads


def kjv_texts() -> dict[str, str]:
    verses = kjv_verses()
    return {name: "\n".join(verses[s]) for name, s in contiguous_splits(len(verses)).items()}


def compressed_bits(compress, context: str, test: str) -> float:
    """``8·(|C(context + test)| − |C(context)|) / |test|``: the bits the compressor spends on ``test`` after
    ``context``."""
    before, after = len(compress(context.encode())), len(compress((context + test).encode()))
    return 8 * (after - before) / len(test)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="text_baselines")
    p.add_argument("--orders", type=int, nargs="*", default=list(ORDERS))
    args = p.parse_args()
    torch.set_num_threads(2)
    text = kjv_texts()
    context, test = text["train"] + "\n", text["test"]
    print(f"kjv: train {len(text['train']):,} characters, test {len(test):,}", flush=True)
    records = []
    # the training text (what the models see); and, to place the issue's figures, all the text before the test
    # verses (train and val): bz2 sorts blocks of 900 kB, so its figure moves with where the blocks fall
    contexts = {"train": context, "train + val": context + text["val"] + "\n"}
    for name, compress, issue in COMPRESSORS:
        for what, before in contexts.items():
            t0 = time.perf_counter()
            bits = compressed_bits(compress, before, test)
            seconds = time.perf_counter() - t0
            records.append(record(name, "test bits/char", bits, "bits/char", reference=issue, context=what,
                                  seconds=round(seconds, 1), note="reference: the issue's figure"))
            print(f"{name:<16} {bits:.4f} bits/char  (context {what}; {seconds:.1f} s)", flush=True)

    vocabulary = Vocabulary(sorted(set(text["train"])), unknown=True)
    train = TensorData({"tokens": encode_characters(text["train"], vocabulary)[None]}, kind="tokens", name="kjv",
                       split="train", meta={"vocabulary": vocabulary.to_list(), "joiner": ""})  # one stream (1, L)
    rows = blocks(encode_characters(test, vocabulary), ROW)  # (N, 129): what genlab eval reads
    for order in args.orders:
        model = KneserNeyLM.for_data(train, {"order": order})
        t0 = time.perf_counter()
        model.fit(train)
        fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        ids = encode_characters(context[len(context) - (order - 1):] + test if order > 1 else test, vocabulary)
        bits = -model.stream_log_probs(ids, start=order - 1).mean().item() / math.log(2)
        score = time.perf_counter() - t0
        with torch.no_grad():
            by_rows = model(tokens=rows).bits.item()
        stored = sum(model.config.ngrams)
        records.append(record(f"Kneser–Ney order {order}", "test bits/char", bits, "bits/char", seconds=round(fit, 1),
                              score_seconds=round(score, 1), rows_bits=round(by_rows, 4), ngrams=stored,
                              note="modified KN; one stream; rows_bits: rows of 129 as genlab eval reads them"))
        print(f"KN order {order:<2}      {bits:.4f} bits/char  (rows of {ROW + 1}: {by_rows:.4f}; fit {fit:.1f} s, "
              f"score {score:.1f} s, {stored:,} n-grams)", flush=True)
    write_results(args.name, records, command_line(),
                  notes="Issue 25's text baselines on kjv's test text (375,978 characters; the last 10 % of the "
                        "verses). Compressors: 8·(|C(context + test)| − |C(context)|) / |test| with the training text "
                        "(+ \\n) as context, or all the text before the test verses (train + val); seconds = both "
                        "compressions. Kneser–Ney (kn-lm, modified KN, Chen & Goodman 1998 §3): fitted by counting "
                        "the training text as one stream (seconds = fit), scored on the test text as one stream "
                        "(score_seconds) and by rows as genlab eval reads them (rows_bits). Orders 1 and 2 are the "
                        "smoothed unigram and bigram; the trained bigram LM reads 3.366 (family_toys).")


if __name__ == "__main__":
    main()
