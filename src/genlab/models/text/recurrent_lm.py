"""Character-level recurrent language models: an embedding (R8), a stacked RNN, GRU or LSTM (R1, R3, R4, R6) with
dropout between layers, and a linear head to next-character logits (F1), trained on the cross-entropy of the next
character (F2) by truncated backpropagation through time (R2).

    e_t = E[w_t],   (h_t, state_t) = RNN(e_t, state_{t−1}),   p(w_{t+1} | w_{≤t}) = softmax(W h_t + b)

The model carries its state (``CarriesState``): a row of the batch continues the same row of the previous batch
(kjv's ordered stream), so ``forward(tokens, state=...)`` starts where that row stopped and returns its final
state; the system detaches it between batches (the truncation of R2) and restarts it with each epoch. The loss is
the mean NLL per predicted character in nats (``bits``: per character); ``units`` counts the characters.

``sample`` continues a prompt with the shared decoding rules (``models.text.decoding``), the state carried token
by token: no context limit.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from genlab.blocks.recurrent.layers import GRU, LSTM, RNN
from genlab.config import Config, require
from genlab.errors import ConfigError, ShapeError
from genlab.models.base import CarriesState, Generative, Model
from genlab.models.inputs import check_count
from genlab.models.text.bigram import LMOutput, lm_output, text_defaults
from genlab.models.text.decoding import LM_SAMPLE_OPTIONS, banned_ids, generate, prompt_ids
from genlab.policy import LoaderPolicy
from genlab.render import Renderer, TextFile
from genlab.vocab import Vocabulary

CELLS = {"rnn": RNN, "gru": GRU, "lstm": LSTM}
State = Tensor | tuple[Tensor, Tensor]  # h (layers, B, H), or an LSTM's (h, c)


@dataclasses.dataclass
class RecurrentLMConfig(Config):
    vocabulary: tuple[str, ...] = ()  # id → symbol (``Vocabulary.to_list()``), from the data: saved as JSON
    joiner: str = ""
    cell: Literal["rnn", "gru", "lstm"] = "lstm"  # R1, R3 (PyTorch's reset-after form: the fused kernel), R4
    embed_dim: int = 64  # R8
    hidden: int = 512
    num_layers: int = 2  # R6
    dropout: float = 0.1  # between layers and before the head (training only)
    length: int = 300  # tokens per sample (sample(tokens=...) overrides)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.vocabulary) >= 3, "a language model needs a vocabulary from the data: train it on --data kjv")
        require(self.embed_dim >= 1 and self.hidden >= 1, f"embed_dim and hidden must be ≥ 1, got {self.embed_dim}, "
                                                          f"{self.hidden}")
        require(self.num_layers >= 1, f"num_layers must be ≥ 1, got {self.num_layers}")
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        require(self.length >= 1, f"length must be ≥ 1 token, got {self.length}")


@dataclasses.dataclass
class RNNLMConfig(RecurrentLMConfig):
    cell: Literal["rnn", "gru", "lstm"] = "rnn"


@dataclasses.dataclass
class GRULMConfig(RecurrentLMConfig):
    cell: Literal["rnn", "gru", "lstm"] = "gru"


def _batch_of(state: State) -> int:
    return (state[0] if isinstance(state, tuple) else state).shape[1]


class RecurrentLM(Model, CarriesState, Generative):
    """A stacked RNN / GRU / LSTM over characters, its state carried along the stream (``config.cell``)."""

    config_class: ClassVar[type[Config]] = RecurrentLMConfig
    inputs = ("tokens",)
    optional_inputs = ()
    kinds = ("tokens",)
    loader_policy = LoaderPolicy(order="stream")  # row b of each batch continues row b of the previous one
    sample_options = LM_SAMPLE_OPTIONS

    def __init__(self, config: RecurrentLMConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.vocab = Vocabulary.from_list(list(c.vocabulary))
        V = len(self.vocab)
        self.embed = nn.Embedding(V, c.embed_dim, padding_idx=self.vocab.pad_id)  # R8
        self.rnn = CELLS[c.cell](c.embed_dim, c.hidden, num_layers=c.num_layers,
                                 dropout=c.dropout if c.num_layers > 1 else 0.0)  # R6, batch-first
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden, V)  # F1

    @classmethod
    def data_defaults(cls, data) -> dict[str, Any]:
        return text_defaults(data)

    def hidden_states(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """``h_t`` of the top layer for each position of ``ids`` (B, T) → ``((B, T, H), final state)``."""
        if ids.dim() != 2 or ids.dtype != torch.int64:
            raise ShapeError(f"{type(self).__name__} reads token ids (B, T) int64, got {tuple(ids.shape)} {ids.dtype}")
        if state is not None and _batch_of(state) != ids.shape[0]:
            raise ConfigError(f"the carried state holds {_batch_of(state)} rows but the batch {ids.shape[0]}: pass "
                              f"state=None to start the stream again")
        return self.rnn(self.embed(ids), state)

    def forward(self, tokens: Tensor, state: State | None = None) -> LMOutput:
        """F2 over positions 1..T of each row, predicted from the characters before them and the carried state."""
        inputs, target = tokens[:, :-1], tokens[:, 1:]  # (B, T), (B, T)
        h, final = self.hidden_states(inputs, state)  # (B, T, H)
        keep = target != self.vocab.pad_id
        n = int(keep.sum())
        if n == 0:
            raise ConfigError("a batch with no token to predict: rows need at least 2 tokens that are not <pad>")
        logits = self.head(self.drop(h))  # (B, T, V)
        return lm_output(logits[keep], target[keep], state=final)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, prompt: str | None = None,
               tokens: int | None = None, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None) -> Tensor:
        """``n`` texts: the ``prompt`` (a line break when none), then ``tokens`` drawn characters → ``(n, P +
        tokens)`` int64; the state is carried token by token (no context limit)."""
        n = check_count(n)
        tokens = self.config.length if tokens is None else check_count(tokens, what="tokens")
        start = torch.tensor(prompt_ids(self.vocab, prompt), dtype=torch.int64, device=self.device)
        start = start.expand(n, -1)  # (n, P)

        def step(ids: Tensor, state: State | None):
            h, state = self.hidden_states(ids, state)
            return self.head(h[:, -1]), state

        was_training = self.training
        self.eval()
        try:
            return generate(step, start, tokens, generator=generator, temperature=temperature, top_k=top_k,
                            top_p=top_p, banned=banned_ids(self.vocab))
        finally:
            self.train(was_training)

    def renderer(self) -> Renderer:
        return TextFile(vocabulary=tuple(self.config.vocabulary), joiner=self.config.joiner)


class RNNLM(RecurrentLM):
    """The RNN LM (R1): ``recurrent_lm`` with ``cell="rnn"`` by default."""

    config_class = RNNLMConfig


class GRULM(RecurrentLM):
    """The GRU LM (R3): ``recurrent_lm`` with ``cell="gru"`` by default."""

    config_class = GRULMConfig
