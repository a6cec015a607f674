"""The bigram language model: ``p(w_t | w_{t−1}) = softmax(W[w_{t−1}])`` (F1) — a learned table of logits, trained
on the cross-entropy of the next token (F2); the baseline of the recurrent LMs (R1–R4), whose maximum-likelihood
table is the normalized bigram counts.

The loss is the mean negative log-likelihood per predicted token, in nats (``bpc = loss / ln 2`` for characters),
over every position whose target is not ``<pad>``; ``units`` counts those tokens, so validation and ``genlab eval``
average per token whatever the rows hold. ``sample`` draws a chain from the symbol the data starts its lines with
(``"\\n"`` when the vocabulary has it, else the first symbol), never ``<pad>``; ``renderer()`` writes the text.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.config import Config, require
from genlab.errors import ConfigError
from genlab.models.base import Generative, Model, ModelOutput
from genlab.models.inputs import check_count
from genlab.models.text.decoding import LM_SAMPLE_OPTIONS, banned_ids, generate, prompt_ids
from genlab.render import Renderer, TextFile
from genlab.vocab import Vocabulary


def text_defaults(data) -> dict[str, Any]:
    """``vocabulary`` and ``joiner`` from token data's ``meta`` (a ``data_defaults`` helper for text models)."""
    vocabulary = data.meta.get("vocabulary")
    if not vocabulary:
        raise ConfigError(f"{data.name} carries no vocabulary in its meta: train text models on token data "
                          f"(--data kjv)")
    return {"vocabulary": tuple(vocabulary), "joiner": data.meta.get("joiner", "")}


@dataclasses.dataclass
class BigramConfig(Config):
    vocabulary: tuple[str, ...] = ()  # id → symbol (``Vocabulary.to_list()``), from the data: saved as JSON
    joiner: str = ""  # "" between characters, " " between words (how samples are written)
    length: int = 300  # tokens per sample (sample(tokens=...) overrides)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.vocabulary) >= 3, f"a bigram model needs a vocabulary of symbols besides <pad>, got "
                                           f"{list(self.vocabulary)[:5]}: build it from token data (--data kjv)")
        require(self.length >= 1, f"length must be ≥ 1 token, got {self.length}")


@dataclasses.dataclass
class LMOutput(ModelOutput):
    """The mean NLL per token (``loss``, nats) and in bits (``bits``: per character on character data); a model
    that carries its state along the stream returns it in ``state`` (``CarriesState``); ``log_probs`` ``(n,)``:
    ``log p`` of each predicted token (detached), the rows' kept positions in reading order (row by row)."""

    bits: Tensor | None = None
    state: Any = None
    log_probs: Tensor | None = None


def lm_output(logits: Tensor, target: Tensor, **extra: Any) -> LMOutput:
    """F2 of the ``n`` predicted tokens: their logits ``(n, V)`` and ids ``(n,)`` → the mean NLL, its bits, ``units``
    n and each token's ``log p``."""
    log_p = -F.cross_entropy(logits, target, reduction="none")  # (n,)
    nll = -log_p.mean()
    return LMOutput(nll, bits=nll.detach() / math.log(2), units=len(target), log_probs=log_p.detach(), **extra)


class BigramLM(Model, Generative):
    """The LMs' baseline: a ``(V, V)`` table of next-token logits indexed by the previous token (F1, F2)."""

    config_class = BigramConfig
    inputs = ("tokens",)
    optional_inputs = ("tokens_lengths",)
    kinds = ("tokens",)
    sample_options = LM_SAMPLE_OPTIONS

    def __init__(self, config: BigramConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        self.vocab = Vocabulary.from_list(list(self.config.vocabulary))
        V = len(self.vocab)
        self.logits = nn.Parameter(torch.zeros(V, V))  # W[a, b] = logit of b after a

    @classmethod
    def data_defaults(cls, data) -> dict[str, Any]:
        return text_defaults(data)

    def forward(self, tokens: Tensor, tokens_lengths: Tensor | None = None) -> LMOutput:
        """F2: ``−(1/n) Σ_t log p(w_t | w_{t−1})`` over the ``n`` targets that are not ``<pad>``."""
        prev, target = tokens[:, :-1], tokens[:, 1:]  # (B, T), (B, T)
        keep = target != self.vocab.pad_id  # (B, T)
        if tokens_lengths is not None:  # positions past a row's length are padding too
            keep &= torch.arange(1, tokens.shape[1], device=tokens.device) < tokens_lengths[:, None]
        n = int(keep.sum())
        if n == 0:
            raise ConfigError("a batch with no token to predict: rows need at least 2 tokens that are not <pad>")
        return lm_output(self.logits[prev[keep]], target[keep])  # the mean over the n targets

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, prompt: str | None = None,
               tokens: int | None = None, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None) -> Tensor:
        """``n`` texts: the ``prompt`` (a line break when none), then ``tokens`` drawn tokens (default
        ``config.length``) → ``(n, P + tokens)`` int64 (``models.text.decoding``: temperature, top-k, top-p)."""
        n = check_count(n)
        tokens = self.config.length if tokens is None else check_count(tokens, what="tokens")
        start = torch.tensor(prompt_ids(self.vocab, prompt), dtype=torch.int64).expand(n, -1)  # (n, P)
        table = self.logits.detach()

        def step(ids: Tensor, context: None):
            return table[ids[:, -1]], None  # p(w_t | w_{t−1}) depends on the last token only

        return generate(step, start, tokens, generator=generator, temperature=temperature, top_k=top_k,
                        top_p=top_p, banned=banned_ids(self.vocab))

    def renderer(self) -> Renderer:
        return TextFile(vocabulary=tuple(self.config.vocabulary), joiner=self.config.joiner)
