"""``Vocabulary``: symbols (characters, words, phonemes) ↔ integer ids, saved as a plain JSON list.

A leaf module (it imports only ``genlab.errors``), below ``models/``: a model can encode a prompt and keep its
vocabulary in its config as ``to_list()`` (JSON in ``config.json``, never a pickle); ``genlab.data`` re-exports it.

Ids are ``<pad>`` = 0, then ``<unk>``, ``<bos>``, ``<eos>`` when the vocabulary has them (in that
order), then the symbols. ``to_list()`` is the whole id → symbol table, e.g. ``["<pad>", "<unk>",
"a", "b"]``; ``from_list`` rebuilds the same vocabulary from it, for ``config.json`` or
``TensorData.meta`` (no pickle). Imports neither torch nor numpy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from genlab.errors import ConfigError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)  # reserved: no symbol may be spelled like one


class Vocabulary:
    """Map symbols to ids and back: ``encode(["a", "b"]) -> [4, 5]``, ``decode([4, 5]) -> ["a", "b"]``.

    ``unknown=True`` adds ``<unk>``, the id of every symbol not in the vocabulary (otherwise
    encoding one raises); ``bos`` / ``eos`` add the begin / end-of-sequence tokens that ``encode(...,
    bos=True, eos=True)`` puts around a sequence. ``<pad>`` (id 0) is always there: padded
    fields are padded with 0.
    """

    def __init__(self, symbols: Iterable[str], *, unknown: bool = True, bos: bool = False, eos: bool = False) -> None:
        symbols = list(symbols)
        wrong = [s for s in symbols if not isinstance(s, str)]
        if wrong:
            raise ConfigError(f"vocabulary symbols must be strings (JSON-safe), got {wrong[:5]}: convert them with str")
        reserved = sorted(set(symbols) & set(SPECIALS))
        if reserved:
            raise ConfigError(f"symbols {reserved} are reserved for special tokens: rename them in the data")
        repeated = sorted(s for s, c in Counter(symbols).items() if c > 1)
        if repeated:
            raise ConfigError(f"vocabulary symbols must be unique, got repeats {repeated[:5]}: pass each once")
        specials = [t for t, on in zip(SPECIALS, (True, unknown, bos, eos), strict=True) if on]
        self._itos: list[str] = specials + symbols
        self._stoi: dict[str, int] = {s: i for i, s in enumerate(self._itos)}

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], *, min_count: int = 1, max_size: int | None = None,
              unknown: bool = True, bos: bool = False, eos: bool = False) -> Vocabulary:
        """The vocabulary of the symbols in ``sequences`` seen at least ``min_count`` times, most frequent
        first (ties by symbol), at most ``max_size`` symbols (special tokens not counted)."""
        counts = Counter(s for seq in sequences for s in seq)
        ranked = sorted((s for s, c in counts.items() if c >= min_count), key=lambda s: (-counts[s], s))
        return cls(ranked[:max_size], unknown=unknown, bos=bos, eos=eos)

    # ---- JSON -----------------------------------------------------------------------------------------
    def to_list(self) -> list[str]:
        """The id → symbol table, special tokens first: a plain list of strings for JSON."""
        return list(self._itos)

    @classmethod
    def from_list(cls, items: list[str]) -> Vocabulary:
        """The vocabulary ``to_list()`` wrote: its leading special tokens say which ones it has."""
        items = list(items)
        if not items or items[0] != PAD:
            raise ConfigError(f"a vocabulary list starts with {PAD!r} (id 0), got {items[:3]}: "
                              f"pass what Vocabulary.to_list() wrote")
        head = [t for t in SPECIALS if t in items]
        if items[: len(head)] != head:
            raise ConfigError(f"special tokens must lead the list in the order {list(SPECIALS)}, got "
                              f"{items[: len(head) + 1]}: pass what Vocabulary.to_list() wrote")
        return cls(items[len(head):], unknown=UNK in head, bos=BOS in head, eos=EOS in head)

    # ---- ids ------------------------------------------------------------------------------------------
    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int | None:
        return self._stoi.get(UNK)

    @property
    def bos_id(self) -> int | None:
        return self._stoi.get(BOS)

    @property
    def eos_id(self) -> int | None:
        return self._stoi.get(EOS)

    @property
    def symbols(self) -> list[str]:
        """The symbols without the special tokens, in id order."""
        return [s for s in self._itos if s not in SPECIALS]

    def encode(self, symbols: Iterable[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        """The ids of ``symbols``, with ``<bos>`` before and ``<eos>`` after when asked; symbols not in
        the vocabulary map to ``<unk>`` (raise if it has none)."""
        symbols = list(symbols)
        unk = self.unk_id
        ids = [self._stoi.get(s, unk) for s in symbols]
        if unk is None and None in ids:
            missing = sorted({s for s in symbols if s not in self._stoi})
            raise ConfigError(f"symbol(s) {missing[:5]} are not in the vocabulary of {len(self)} and it has no "
                              f"{UNK}: build it with unknown=True or from data that contains them")
        head = [self._special(BOS)] if bos else []
        tail = [self._special(EOS)] if eos else []
        return head + ids + tail

    def _special(self, token: str) -> int:
        if token not in self._stoi:
            raise ConfigError(f"this vocabulary has no {token}: build it with {token.strip('<>')}=True")
        return self._stoi[token]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The symbols of ``ids`` (ints or a 1-D tensor), up to the first ``<eos>``, without ``<pad>``
        and ``<bos>``; unknown ids decode as ``<unk>``."""
        out = []
        for i in map(int, ids):
            if not 0 <= i < len(self._itos):
                raise ConfigError(f"id {i} is outside this vocabulary of {len(self)} ids [0, {len(self) - 1}]")
            s = self._itos[i]
            if s == EOS:
                break
            if s not in (PAD, BOS):
                out.append(s)
        return out

    def __len__(self) -> int:
        """Ids in use, special tokens included (the embedding table's size)."""
        return len(self._itos)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._itos == other._itos

    def __hash__(self) -> int:
        return hash(tuple(self._itos))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} ids: {self._itos[:8]}{' ...' if len(self) > 8 else ''})"
