"""Interpolated Kneser–Ney character n-gram language model, fitted by counting (Kneser & Ney 1995, "Improved
backing-off for m-gram language modeling"; Chen & Goodman 1998, "An empirical study of smoothing techniques for
language modeling", TR-10-98: §2.7 interpolated Kneser–Ney, §3 modified Kneser–Ney).

For a history ``h`` of ``k − 1`` symbols (``h'``: ``h`` without its first symbol) the order-k estimate is

    p_k(w | h) = max(c_k(hw) − D_k(c_k(hw)), 0) / c_k(h•) + γ_k(h) · p_{k−1}(w | h'),
    γ_k(h)     = (D_k1 N_1(h•) + D_k2 N_2(h•) + D_k3+ N_3+(h•)) / c_k(h•),

and ``p_k(w | h) = p_{k−1}(w | h')`` when ``h`` was never seen (``c_k(h•) = 0``). The counts ``c_k`` are the raw
counts at the highest order N and the continuation counts ``N_1+(•w_1..w_k)`` (how many distinct symbols precede
the k-gram) below it — the Kneser–Ney marginal constraint; ``c_k(h•) = Σ_w c_k(hw)`` and ``N_r(h•)`` counts the
symbols ``w`` with ``c_k(hw) = r`` (``N_3+``: ≥ 3). The recursion ends in ``p_0(w) = 1 / (V − 1)``, uniform over
the vocabulary but ``<pad>`` (so ``<unk>`` and every symbol have a finite probability). Since ``D(c) ≤ c``, each
level sums to 1 over the vocabulary given that the level below does.

Discounts (``discount=None``, the default: **modified** Kneser–Ney, Chen & Goodman §3): three per order, from that
order's count-of-counts ``n_r`` (how many k-grams have count exactly r in the counts that order uses),
``Y = n_1 / (n_1 + 2 n_2)``, ``D_1 = 1 − 2Y n_2/n_1``, ``D_2 = 2 − 3Y n_3/n_2``, ``D_3+ = 3 − 4Y n_4/n_3``; an
estimate that the counts leave undefined or outside ``[0.1, r]`` (tiny data) is clamped into it, so every seen
history keeps back-off mass. ``discount=D`` in (0, 1]: **interpolated** Kneser–Ney with one absolute discount D
for every order and count (Kneser & Ney 1995).

Counting (``fit``): the training split's ``tokens`` rows are read as one stream when consecutive rows overlap by one
symbol (the layout of ``kjv``: row 0, then ``rows[1:, 1:]``), else row by row; k-grams holding ``<pad>`` are not
counted. Each k-gram is one int64 key ``Σ_i w_i V^{k−i}`` (the first symbol most significant, so sorted keys
group by history: the history of a key is ``key // V``), counted by ``torch.unique``; ``V^N`` must fit in int64.
Lookups are ``torch.searchsorted`` in the sorted keys.

State (buffers, saved by ``save_pretrained``): per order k = 1..N, ``keys_k`` / ``counts_k`` ``(n_k,)`` (the
k-grams and the counts that order uses), ``history_keys_k`` / ``history_totals_k`` ``(m_k,)`` and
``history_types_k`` ``(m_k, 3)`` (``c_k(h•)`` and ``N_1, N_2, N_3+`` of each seen history), ``discounts``
``(N, 3)``. Their sizes depend on the data, so ``fit`` records them in the config (``ngrams`` = ``(n_1..n_N)``,
``histories`` = ``(m_1..m_N)``): a saved config sizes the buffers before the weights load, as for every model.

``forward(tokens)`` scores each row on its own (``LMOutput``: the mean NLL per predicted non-pad token): position t
is predicted from the ``N − 1`` symbols before it *in its row*, so the first N − 1 positions of a row use the
shorter history (a history holding ``<pad>`` is never seen and backs off). ``stream_log_probs`` scores a text as
one stream, the history carried everywhere (``benchmarks/text_baselines.py``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.config import Config, require
from genlab.errors import ConfigError
from genlab.models.base import ClosedForm, Generative, Model
from genlab.models.closed_form import NotFitted
from genlab.models.inputs import check_count
from genlab.models.text.bigram import LMOutput, text_defaults
from genlab.models.text.decoding import LM_SAMPLE_OPTIONS, banned_ids, generate, prompt_ids
from genlab.render import Renderer, TextFile
from genlab.vocab import Vocabulary

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData

INT64_MAX = 2**63 - 1
#: the smallest discount kept (modified KN's estimates on tiny data): a seen history always backs off with some mass
MIN_DISCOUNT = 0.1


@dataclasses.dataclass
class KneserNeyConfig(Config):
    vocabulary: tuple[str, ...] = ()  # id → symbol (``Vocabulary.to_list()``), from the data: saved as JSON
    joiner: str = ""  # "" between characters, " " between words (how samples are written)
    order: int = 5  # N: p(w_t | w_{t−N+1..t−1}); V^N must fit in int64
    discount: float | None = None  # None: modified KN (D_1, D_2, D_3+ per order); D in (0, 1]: one D everywhere
    length: int = 300  # tokens per sample (sample(tokens=...) overrides)
    ngrams: tuple[int, ...] = ()  # set by fit: the k-grams stored at each order k = 1..N (sizes the buffers)
    histories: tuple[int, ...] = ()  # set by fit: the seen histories (k − 1 symbols) at each order k = 1..N

    def __post_init__(self) -> None:
        super().__post_init__()
        V = len(self.vocabulary)
        require(V >= 3, f"an n-gram model needs a vocabulary of symbols besides <pad>, got "
                        f"{list(self.vocabulary)[:5]}: build it from token data (--data kjv)")
        require(self.order >= 1, f"order must be ≥ 1 (1: unigram, 2: bigram, ...), got {self.order}")
        require(V**self.order <= INT64_MAX,
                f"order {self.order} over {V} symbols has {V}^{self.order} n-grams, more than an int64 key holds: "
                f"lower --set model.order to at most {math.floor(math.log(INT64_MAX) / math.log(V))}")
        require(self.discount is None or 0 < self.discount <= 1,
                f"discount must be in (0, 1] (or null: modified Kneser–Ney's estimates), got {self.discount}")
        require(self.length >= 1, f"length must be ≥ 1 token, got {self.length}")
        fitted = len(self.ngrams) == len(self.histories) == self.order
        require((not self.ngrams and not self.histories) or fitted,
                f"ngrams and histories are set by fit, one size per order ({self.order}); got {list(self.ngrams)} "
                f"and {list(self.histories)}: leave them out")
        require(all(n >= 0 for n in (*self.ngrams, *self.histories)), "ngrams and histories must be ≥ 0")


# --- counting --------------------------------------------------------------------------------------------------
def ngram_keys(ids: Tensor, V: int) -> Tensor:
    """The int64 key ``Σ_i w_i V^{k−1−i}`` of each k-gram in the last dimension of ``ids`` ``(..., k)`` → ``(...)``
    (Horner's rule; k = 0: the empty history, key 0)."""
    key = torch.zeros(ids.shape[:-1], dtype=torch.int64, device=ids.device)
    for i in range(ids.shape[-1]):
        key = key * V + ids[..., i]
    return key


def training_sequences(tokens: Tensor) -> Tensor:
    """The rows ``(S, L)`` whose k-grams ``fit`` counts: one stream ``(1, L)`` when consecutive rows overlap by one
    symbol (row 0, then ``rows[1:, 1:]``), else the rows themselves."""
    if len(tokens) > 1 and bool((tokens[1:, 0] == tokens[:-1, -1]).all()):
        return torch.cat([tokens[0], tokens[1:, 1:].reshape(-1)])[None]
    return tokens


def kgram_keys(sequences: Tensor, k: int, V: int, pad_id: int) -> Tensor:
    """The keys of every k-gram of the rows ``(S, L)`` that holds no ``<pad>`` → ``(n,)`` (with repeats)."""
    if sequences.shape[1] < k:
        return sequences.new_zeros(0)
    windows = sequences.unfold(1, k, 1)  # (S, L − k + 1, k)
    return ngram_keys(windows, V)[(windows != pad_id).all(-1)]


def kneser_ney_counts(sequences: Tensor, order: int, V: int, pad_id: int) -> list[tuple[Tensor, Tensor]]:
    """``[(keys_k, counts_k)]`` for k = 1..N, keys sorted: raw counts ``c(w_1..w_N)`` at the highest order, the
    continuation counts ``N_1+(•w_1..w_k) = |{v : c(v w_1..w_k) > 0}|`` below it (Kneser & Ney 1995)."""
    tables: list[tuple[Tensor, Tensor]] = [None] * order  # type: ignore[list-item]
    above = None  # the distinct (k+1)-grams
    for k in range(order, 0, -1):
        if k == order:
            tables[k - 1] = torch.unique(kgram_keys(sequences, k, V, pad_id), return_counts=True)
        else:  # the distinct (k+1)-grams' last k symbols, counted: how many symbols precede each k-gram
            tables[k - 1] = torch.unique(above % V**k, return_counts=True)
        if k > 1:
            above = tables[k - 1][0] if k == order else torch.unique(kgram_keys(sequences, k, V, pad_id))
    return tables


def history_statistics(keys: Tensor, counts: Tensor, V: int) -> tuple[Tensor, Tensor, Tensor]:
    """Per seen history h of one order's table: its key ``(m,)``, ``c(h•) = Σ_w c(hw)`` ``(m,)`` and
    ``N_1(h•), N_2(h•), N_3+(h•)`` ``(m, 3)`` (sorted keys: the histories ``keys // V`` come in runs)."""
    history_keys, which = torch.unique_consecutive(keys // V, return_inverse=True)  # (m,), (n,)
    m = len(history_keys)
    totals = torch.zeros(m, dtype=torch.int64, device=keys.device).scatter_add_(0, which, counts)
    kind = counts.clamp(max=3) - 1  # 0, 1, 2 for counts 1, 2, ≥ 3
    types = torch.zeros(m * 3, dtype=torch.int64, device=keys.device)
    types.scatter_add_(0, which * 3 + kind, torch.ones_like(counts))
    return history_keys, totals, types.view(m, 3)


def modified_discounts(counts: Tensor) -> Tensor:
    """Chen & Goodman §3: ``Y = n_1/(n_1 + 2n_2)``, ``D_r = r − (r + 1) Y n_{r+1}/n_r`` for r = 1, 2, 3 (3: ``D_3+``)
    from the count-of-counts ``n_r`` of one order's counts → ``(3,)`` float64, each clamped into [0.1, r]."""
    n = [int((counts == r).sum()) for r in range(1, 5)]  # n_1 .. n_4
    Y = n[0] / (n[0] + 2 * n[1]) if n[0] + 2 * n[1] > 0 else 0.5
    out = []
    for r in (1, 2, 3):
        D = r - (r + 1) * Y * n[r] / n[r - 1] if n[r - 1] > 0 else Y
        out.append(min(max(D, MIN_DISCOUNT), r))
    return torch.tensor(out, dtype=torch.float64)


def lookup(sorted_keys: Tensor, query: Tensor) -> tuple[Tensor, Tensor]:
    """``(index, found)`` of each query key in ``sorted_keys`` (``torch.searchsorted``); ``index`` is valid where
    ``found`` (and 0 where the table is empty)."""
    if len(sorted_keys) == 0:
        return torch.zeros_like(query), torch.zeros_like(query, dtype=torch.bool)
    index = torch.searchsorted(sorted_keys, query).clamp_(max=len(sorted_keys) - 1)
    return index, sorted_keys[index] == query


# --- the model -------------------------------------------------------------------------------------------------
class KneserNeyLM(Model, ClosedForm, Generative):
    """The Kneser–Ney character n-gram LM of the module's docstring, fitted by counting (``genlab train kn-lm``)."""

    config_class = KneserNeyConfig
    inputs = ("tokens",)
    optional_inputs = ("tokens_lengths",)
    kinds = ("tokens",)
    sample_options = LM_SAMPLE_OPTIONS
    #: the buffers of order k's tables, with their trailing shape (after ``n_k`` or ``m_k`` rows)
    TABLES: ClassVar[dict[str, tuple[str, tuple[int, ...]]]] = {
        "keys": ("ngrams", ()), "counts": ("ngrams", ()),
        "history_keys": ("histories", ()), "history_totals": ("histories", ()), "history_types": ("histories", (3,)),
    }

    def __init__(self, config: KneserNeyConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        self.vocab = Vocabulary.from_list(list(self.config.vocabulary))
        N = self.config.order
        ngrams, histories = self.config.ngrams or (0,) * N, self.config.histories or (0,) * N
        sizes = {"ngrams": ngrams, "histories": histories}
        for k in range(1, N + 1):  # sized from the config: a saved model's buffers take its weights as they are
            for name, (size, tail) in self.TABLES.items():
                self.register_buffer(f"{name}_{k}", torch.zeros(sizes[size][k - 1], *tail, dtype=torch.int64))
        self.register_buffer("discounts", torch.zeros(N, 3))  # D_k1, D_k2, D_k3+ of order k = 1..N
        base = torch.ones(len(self.vocab), dtype=torch.float64)
        base[self.vocab.pad_id] = 0
        self.register_buffer("uniform", base / base.sum(), persistent=False)  # p_0 (V,): all symbols but <pad>

    @classmethod
    def data_defaults(cls, data: TensorData) -> dict[str, Any]:
        return text_defaults(data)

    # --- fitting -----------------------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return bool(self.config.ngrams)

    def require_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFitted(f"this {type(self).__name__} is not fitted yet: train it first: genlab train kn-lm "
                            f"(or call model.fit(train_data) with token data)")

    @torch.no_grad()
    def fit(self, data: TensorData) -> None:
        """Count the training split's k-grams (raw at order N, continuation counts below), their histories'
        statistics and each order's discounts; the tables replace the buffers and their sizes go into the config."""
        tokens = data.fields.get("tokens")
        if tokens is None or tokens.dim() != 2 or tokens.dtype != torch.int64:
            raise ConfigError(f"{type(self).__name__} is fitted on token data (a tokens field (N, T) of int64 ids), "
                              f"got {data.name} with fields {sorted(data.fields)}: pass --data kjv")
        V, N = len(self.vocab), self.config.order
        self._check_ids(tokens, "the training tokens")
        tables = kneser_ney_counts(training_sequences(tokens.to(self.device)), N, V, self.vocab.pad_id)
        if len(tables[0][0]) == 0:
            raise ConfigError(f"{data.name} holds no symbol besides <pad> to count: fit on text")
        for k, (keys, counts) in enumerate(tables, start=1):
            stats = dict(zip(("history_keys", "history_totals", "history_types"), history_statistics(keys, counts, V),
                             strict=True))
            for name, value in {"keys": keys, "counts": counts, **stats}.items():
                setattr(self, f"{name}_{k}", value.contiguous())  # a registered buffer: replaced, size and all
            D = modified_discounts(counts) if self.config.discount is None else torch.full((3,), self.config.discount)
            self.discounts[k - 1] = D.to(self.discounts)
        self.config = self.config.replace(ngrams=[len(t[0]) for t in tables],
                                          histories=[len(getattr(self, f"history_keys_{k}")) for k in range(1, N + 1)])

    # --- probabilities -----------------------------------------------------------------------------------------
    def probabilities(self, history: Tensor, candidates: Tensor) -> Tensor:
        """``p_N(w | history)`` of each candidate by the interpolated recursion: ``history`` ``(P, N − 1)`` ids (the
        nearest last; ``<pad>`` where there are fewer: such histories are unseen and back off), ``candidates``
        ``(P, M)`` → ``(P, M)`` float64."""
        self.require_fitted()
        V, N = len(self.vocab), self.config.order
        p = self.uniform[candidates]  # p_0 (P, M)
        for k in range(1, N + 1):
            h = ngram_keys(history[:, N - k:], V)  # the last k − 1 symbols (P,)
            i, seen = lookup(getattr(self, f"history_keys_{k}"), h)  # (P,)
            total = getattr(self, f"history_totals_{k}")[i].double()  # c_k(h•)
            D = self.discounts[k - 1].double()  # (3,)
            backoff = getattr(self, f"history_types_{k}")[i].double() @ D  # γ_k(h) c_k(h•)
            j, found = lookup(getattr(self, f"keys_{k}"), h[:, None] * V + candidates)  # (P, M)
            c = torch.where(found, getattr(self, f"counts_{k}")[j], 0)  # c_k(hw)
            discounted = (c - D[(c.clamp(1, 3) - 1)]).clamp(min=0).where(c > 0, 0.0)  # max(c − D(c), 0)
            p = torch.where(seen[:, None], (discounted + backoff[:, None] * p) / total.clamp(min=1)[:, None], p)
        return p

    def histories(self, ids: Tensor) -> Tensor:
        """The ``N − 1`` ids before each position of the rows ``ids`` ``(B, L)`` → ``(B, L, N − 1)`` (``<pad>``
        before a row's start)."""
        n = self.config.order - 1
        if n == 0:
            return ids.new_zeros(*ids.shape, 0)
        padded = F.pad(ids, (n, 0), value=self.vocab.pad_id)  # (B, n + L)
        return padded.unfold(1, n, 1)[:, : ids.shape[1]]  # window t: ids t − n .. t − 1

    def forward(self, tokens: Tensor, tokens_lengths: Tensor | None = None) -> LMOutput:
        """``−(1/n) Σ log p(w_t | w_{t−N+1..t−1})`` over the ``n`` non-pad targets of positions 1..T of each row,
        the history read within the row."""
        self.require_fitted()
        self._check_ids(tokens, "tokens")
        target = tokens[:, 1:]  # (B, T)
        keep = target != self.vocab.pad_id
        if tokens_lengths is not None:  # positions past a row's length are padding too
            keep &= torch.arange(1, tokens.shape[1], device=tokens.device) < tokens_lengths[:, None]
        n = int(keep.sum())
        if n == 0:
            raise ConfigError("a batch with no token to predict: rows need at least 2 tokens that are not <pad>")
        p = self.probabilities(self.histories(tokens)[:, 1:][keep], target[keep][:, None])[:, 0]  # (n,)
        nll = -p.log().mean().to(self.dtype)
        return LMOutput(nll, bits=nll / math.log(2), units=n)

    @torch.no_grad()
    def stream_log_probs(self, ids: Tensor, *, start: int = 0, chunk: int = 1 << 16) -> Tensor:
        """``log p(w_t | w_{t−N+1..t−1})`` of one stream ``ids`` ``(L,)`` for t = start..L − 1 → ``(L − start,)``
        float64: every symbol predicted once from the full history, ``ids[:start]`` read only as history."""
        self.require_fitted()
        self._check_ids(ids, "ids")
        history = self.histories(ids[None])[0]  # (L, N − 1)
        return torch.cat([self.probabilities(history[t: t + chunk], ids[t: t + chunk, None])[:, 0].log()
                          for t in range(start, len(ids), chunk)])

    def _check_ids(self, ids: Tensor, what: str) -> None:
        V = len(self.vocab)
        if ids.dtype != torch.int64 or (ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= V)):
            raise ConfigError(f"{what} must be int64 ids in [0, {V}) (the model's vocabulary), got {ids.dtype}"
                              + (f" in [{int(ids.min())}, {int(ids.max())}]" if ids.numel() else ""))

    # --- sampling ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, prompt: str | None = None,
               tokens: int | None = None, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None) -> Tensor:
        """``n`` texts: the ``prompt`` (a line break when none), then ``tokens`` drawn tokens (default
        ``config.length``), each from ``p(w | the last N − 1)`` → ``(n, P + tokens)`` int64."""
        self.require_fitted()
        n = check_count(n)
        tokens = self.config.length if tokens is None else check_count(tokens, what="tokens")
        start = torch.tensor(prompt_ids(self.vocab, prompt), dtype=torch.int64, device=self.device).expand(n, -1)
        everything = torch.arange(len(self.vocab), device=self.device).expand(n, -1)  # (n, V)
        width = self.config.order - 1

        def step(ids: Tensor, before: Tensor | None):
            seen = ids if before is None else torch.cat([before, ids], 1)  # (n, t)
            seen = seen[:, max(seen.shape[1] - width, 0):]  # the last N − 1 at most
            history = F.pad(seen, (width - seen.shape[1], 0), value=self.vocab.pad_id)  # (n, N − 1)
            return self.probabilities(history, everything).log(), seen  # log p (n, V): logits up to a constant

        return generate(step, start, tokens, generator=generator, temperature=temperature, top_k=top_k,
                        top_p=top_p, banned=banned_ids(self.vocab))

    def renderer(self) -> Renderer:
        return TextFile(vocabulary=tuple(self.config.vocabulary), joiner=self.config.joiner)
