"""What every sequence-to-sequence model of genlab shares: the config fields read from the data, the teacher-forced
decoder input and the loss over the real output symbols.

Teacher forcing: the decoder reads ``<bos> y_1 .. y_n`` and is trained to write ``y_1 .. y_n <eos>`` — at step ``t`` it
is given the true ``y_{t−1}``, not its own guess. The loss is F2 per written symbol,
``−(1/N) Σ_rows Σ_{t ≤ n+1} log p(y_t | y_<t, x)``, over the ``N`` real symbols of the batch (``<eos>`` included);
padded steps are masked out of it, and ``units = N`` weighs validation batches by their symbols. With
``label_smoothing = ε > 0`` (Szegedy et al. 2016, arXiv:1512.00567) the loss trained on is the cross-entropy to the
target ``(1 − ε)·onehot(y_t) + ε/V``, i.e. ``(1 − ε)·F2 + ε·(−(1/V) Σ_v log p(v | y_<t, x))``; ``bits`` stays
F2's, so validation bits per symbol are comparable whatever ε.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.config import Config, require
from genlab.errors import ConfigError, ShapeError
from genlab.models.base import ModelOutput
from genlab.policy import LoaderPolicy
from genlab.vocab import Vocabulary


@dataclasses.dataclass
class Seq2SeqConfig(Config):
    source_vocabulary: tuple[str, ...] = ()  # id → source symbol (``Vocabulary.to_list()``), from the data
    target_vocabulary: tuple[str, ...] = ()  # id → output symbol, with <bos> and <eos>, from the data
    source_joiner: str = ""  # how a source is written: "" between characters
    target_joiner: str = " "  # how an output is written: " " between phonemes
    max_output: int = 32  # the longest output decoding writes by default (from the data: 2 × the longest target)
    dropout: float = 0.2
    label_smoothing: float = 0.0  # ε of the smoothed target (1 − ε)·onehot + ε/V; 0: plain F2

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 <= self.label_smoothing < 1, f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        require(len(self.source_vocabulary) >= 3 and len(self.target_vocabulary) >= 5,
                "a sequence-to-sequence model needs its vocabularies from the data: train it on --data cmudict or "
                "--data dates")
        target = Vocabulary.from_list(list(self.target_vocabulary))
        require(target.bos_id is not None and target.eos_id is not None,
                "the target vocabulary needs <bos> and <eos> (the decoder starts at one and stops at the other)")
        require(self.max_output >= 1, f"max_output must be ≥ 1 symbol, got {self.max_output}")
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")


def seq2seq_defaults(data) -> dict[str, Any]:
    """The vocabularies and joiners from seq2seq data's ``meta``, and ``max_output``: twice the longest target of
    ``data`` (at least 8) — the outputs decoding writes are capped there."""
    meta = data.meta
    if not meta.get("source_vocabulary") or not meta.get("target_vocabulary"):
        raise ConfigError(f"{data.name} carries no source and target vocabularies: train sequence-to-sequence models "
                          f"on --data cmudict or --data dates")
    lengths = data.fields.get("target_lengths")
    longest = int(lengths.max()) if lengths is not None and len(lengths) else 16
    return {"source_vocabulary": tuple(meta["source_vocabulary"]),
            "target_vocabulary": tuple(meta["target_vocabulary"]),
            "source_joiner": meta.get("source_joiner", ""), "target_joiner": meta.get("target_joiner", " "),
            "max_output": max(8, 2 * longest)}


@dataclasses.dataclass
class Seq2SeqOutput(ModelOutput):
    """F2 per output symbol (nats); ``bits`` the same in bits; ``accuracy``: the share of symbols whose most
    probable value is the true one (teacher-forced)."""

    bits: Tensor | None = None
    accuracy: Tensor | None = None


def lengths_of(ids: Tensor, lengths: Tensor | None, what: str) -> Tensor:
    """The rows' lengths ``(B,)``: ``lengths`` when given, else the non-``<pad>`` ids of each row; ``ShapeError`` for
    ids that are not ``(B, L)`` int64, ``ConfigError`` for an empty row."""
    if ids.dim() != 2 or ids.dtype != torch.int64:
        raise ShapeError(f"the {what} must be symbol ids (B, L) int64, got {tuple(ids.shape)} {ids.dtype}")
    n = (ids != 0).sum(1) if lengths is None else lengths.to(ids.device).long()  # (B,)
    if what == "source" and len(n) and int(n.min()) < 1:
        raise ConfigError("an empty source sequence (all <pad>): give every source at least one symbol")
    return n


def teacher_forcing(target: Tensor, target_lengths: Tensor | None, vocab: Vocabulary
                    ) -> tuple[Tensor, Tensor, Tensor]:
    """``(decoder input <bos> y (B, T+1), what it must write y <eos> (B, T+1), mask of the real steps (B, T+1))``."""
    n = lengths_of(target, target_lengths, "target")  # (B,)
    B, T = target.shape
    steps = torch.arange(T + 1, device=target.device)  # (T+1,)
    real = steps[None] <= n[:, None]  # (B, T+1): y_1..y_n and <eos>
    y = torch.cat([target, target.new_zeros(B, 1)], 1)  # (B, T+1)
    y = torch.where(steps[None] < n[:, None], y, 0)  # padding beyond n stays <pad> (whatever the field held)
    wanted = torch.where(steps[None] == n[:, None], vocab.eos_id, y)  # y_1..y_n, <eos>, <pad>...
    given = torch.cat([target.new_full((B, 1), vocab.bos_id), y[:, :-1]], 1)  # <bos>, y_1..y_n, <pad>...
    return given, wanted, real


def symbol_loss(logits: Tensor, wanted: Tensor, real: Tensor, label_smoothing: float = 0.0) -> Seq2SeqOutput:
    """F2 over the real steps of teacher-forced ``logits`` (B, T, V); the loss trained on is the cross-entropy to the
    ε-smoothed target when ``label_smoothing = ε > 0``, ``bits`` F2's in any case."""
    z, y = logits[real], wanted[real]  # (N, V), (N,)
    if label_smoothing == 0:
        loss = nll = F.cross_entropy(z, y)
    else:  # one log-softmax for both terms
        log_p = z.log_softmax(-1)  # (N, V)
        nll = -log_p.gather(1, y[:, None]).mean()
        loss = (1 - label_smoothing) * nll - label_smoothing * log_p.mean()
    correct = (logits.detach().argmax(-1) == wanted)[real].float().mean()
    return Seq2SeqOutput(loss, bits=nll.detach() / math.log(2), accuracy=correct, units=int(real.sum()))


class EncoderDecoder:
    """What both seq2seq models share around their equations: decoding (``transduce``: greedy or beam search over
    the model's ``encode(source, lengths) -> context`` and ``next_log_probs(context, prefix) -> (log p (B, V),
    context)``), the data defaults, the renderer, and reading and writing text (``source_ids``, ``output_text``:
    the ``source_vocab``, ``target_vocab`` and the config's joiners)."""

    inputs = ("source", "target")
    optional_inputs = ("source_lengths", "target_lengths", "group")  # group: read by evaluation, not the loss
    kinds = ("seq2seq",)
    loader_policy = LoaderPolicy(bucket_by="source_lengths")  # batches of similar lengths: little padding

    def build_vocabularies(self) -> None:
        """``source_vocab`` and ``target_vocab`` from the config's id → symbol lists (called in ``__init__``)."""
        self.source_vocab = Vocabulary.from_list(list(self.config.source_vocabulary))
        self.target_vocab = Vocabulary.from_list(list(self.config.target_vocabulary))

    @classmethod
    def data_defaults(cls, data) -> dict[str, Any]:
        return seq2seq_defaults(data)

    @torch.no_grad()
    def transduce(self, source: Tensor, source_lengths: Tensor | None = None, *, beam: int = 1,
                  max_length: int | None = None, length_penalty: float = 0.0) -> list[list[int]]:
        """The output of each source (eval mode): greedy (``beam=1``) or the best of a beam search
        (``seq2seq.search``), at most ``max_length`` symbols (default ``max_output``)."""
        from genlab.models.seq2seq.search import beam_search

        was = self.training
        self.eval()
        try:
            context = self.encode(source.to(self.device), source_lengths)
            v = self.target_vocab
            out, _ = beam_search(self.next_log_probs, context, len(source), bos=v.bos_id, eos=v.eos_id, beam=beam,
                                 max_length=max_length or self.max_output, length_penalty=length_penalty,
                                 banned=banned_outputs(v))
            return out
        finally:
            self.train(was)

    @torch.no_grad()
    def alignment(self, source: Tensor, output: Tensor, source_lengths: Tensor | None = None) -> Tensor:
        """The attention (B, T + 1, S) of the decoder fed ``<bos>`` and ``output`` (B, T) (padded with 0), in eval
        mode: row ``t`` is what writing output symbol ``t`` (the last real row: ``<eos>``) attended to
        (``attention_of``, the model's)."""
        was = self.training
        self.eval()
        try:
            given, _, _ = teacher_forcing(output.to(self.device), None, self.target_vocab)
            return self.attention_of(source.to(self.device), given, source_lengths)
        finally:
            self.train(was)

    def renderer(self):
        from genlab.models.seq2seq.render import AlignmentMaps

        return AlignmentMaps.of(self)

    def source_ids(self, texts: list[str]) -> Tensor:
        """``texts`` split into symbols (characters when ``source_joiner`` is "", else on it) → ``(B, S)`` int64
        padded with 0; ``ConfigError`` naming the symbols the source vocabulary lacks, or an empty text."""
        joiner = self.config.source_joiner
        rows = [list(t) if joiner == "" else t.split(joiner) for t in texts]
        if not rows or any(not r for r in rows):
            raise ConfigError("an empty input: give each --input at least one symbol")
        missing = sorted({s for r in rows for s in r if s not in self.source_vocab})
        if missing:
            known = "".join(self.source_vocab.symbols) if joiner == "" else " ".join(self.source_vocab.symbols)
            raise ConfigError(f"the input holds {len(missing)} symbol(s) the model's source vocabulary lacks: "
                              f"{', '.join(repr(s) for s in missing[:10])}; write it with these: {known}")
        ids = torch.zeros(len(rows), max(len(r) for r in rows), dtype=torch.int64)  # (B, S), 0 = <pad>
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(self.source_vocab.encode(r))
        return ids

    def output_text(self, ids: list[int]) -> str:
        return self.config.target_joiner.join(self.target_vocab.decode(ids))


def banned_outputs(vocab: Vocabulary) -> list[int]:
    """The ids an output never holds: ``<pad>``, ``<unk>`` and ``<bos>``."""
    return [i for i in (vocab.pad_id, vocab.unk_id, vocab.bos_id) if i is not None]
