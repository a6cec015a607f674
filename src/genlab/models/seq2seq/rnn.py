"""Sequence to sequence with additive attention (R9; Bahdanau, Cho & Bengio 2014, arXiv:1409.0473): a
bidirectional recurrent encoder (R6) and a recurrent decoder that attends to the encoder's states at every step.

    h_i = [→h_i ; ←h_i] = BiRNN(E_x[x_1..x_S])_i                                  (encoder, R3/R4, R6)
    s_0 = tanh(W_s [→h_S ; ←h_1])                                                  (from both final states)
    e_{t,i} = v_aᵀ tanh(W_a s_{t−1} + U_a h_i),  α_t = softmax_i(e_t) over the real x_i,  c_t = Σ_i α_{t,i} h_i   (R9)
    s_t = RNNCell([E_y[y_{t−1}] ; c_t], s_{t−1})                                   (the decoder's step)
    o_t = tanh(W_c [s_t ; c_t]),  p(y_t | y_<t, x) = softmax(W_o o_t + b_o)        (F1)

trained by teacher forcing on F2 per output symbol (``seq2seq.common``), the padded steps of both sides masked
(the encoder runs packed to each length, the attention gives padding weight 0, the loss skips it). Decoding is
greedy or beam search (``seq2seq.search``); ``alignment`` returns ``α`` for an output, drawn as attention maps.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from genlab.blocks.attention import AdditiveAttention, padding_mask
from genlab.blocks.recurrent.cells import GRUCell, LSTMCell
from genlab.blocks.recurrent.layers import GRU, LSTM
from genlab.config import require
from genlab.models.base import Model, Transduces
from genlab.models.seq2seq.common import (
    EncoderDecoder,
    Seq2SeqConfig,
    Seq2SeqOutput,
    lengths_of,
    symbol_loss,
    teacher_forcing,
)
from genlab.models.seq2seq.search import Context

ENCODERS = {"gru": GRU, "lstm": LSTM}
DECODERS = {"gru": GRUCell, "lstm": LSTMCell}


@dataclasses.dataclass
class AttentionSeq2SeqConfig(Seq2SeqConfig):
    cell: Literal["gru", "lstm"] = "gru"  # R3 (PyTorch's reset-after form), R4; encoder and decoder
    embed_dim: int = 64  # R8, each side
    hidden: int = 256  # the encoder's units per direction
    encoder_layers: int = 2  # R6
    decoder_hidden: int = 256  # s_t
    attention_dim: int = 128  # the width of the additive score's tanh layer (R9)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(min(self.embed_dim, self.hidden, self.decoder_hidden, self.attention_dim, self.encoder_layers) >= 1,
                f"embed_dim, hidden, decoder_hidden, attention_dim and encoder_layers must be ≥ 1, got "
                f"{self.embed_dim}, {self.hidden}, {self.decoder_hidden}, {self.attention_dim}, {self.encoder_layers}")


class AttentionSeq2Seq(EncoderDecoder, Model, Transduces):
    """Bidirectional recurrent encoder, attentive recurrent decoder (R9)."""

    config_class: ClassVar[type[Seq2SeqConfig]] = AttentionSeq2SeqConfig

    def __init__(self, config: AttentionSeq2SeqConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.build_vocabularies()
        H2, D = 2 * c.hidden, c.decoder_hidden
        self.source_embed = nn.Embedding(len(self.source_vocab), c.embed_dim, padding_idx=0)
        self.target_embed = nn.Embedding(len(self.target_vocab), c.embed_dim, padding_idx=0)
        self.encoder = ENCODERS[c.cell](c.embed_dim, c.hidden, num_layers=c.encoder_layers, bidirectional=True,
                                        dropout=c.dropout if c.encoder_layers > 1 else 0.0)
        self.bridge = nn.Linear(H2, D)  # W_s
        self.attend = AdditiveAttention(D, H2, c.attention_dim)  # W_a, U_a, v_a
        self.decoder = DECODERS[c.cell](c.embed_dim + H2, D)
        self.combine = nn.Linear(D + H2, D)  # W_c
        self.head = nn.Linear(D, len(self.target_vocab))  # W_o, b_o
        self.drop = nn.Dropout(c.dropout)

    # --- the equations ---------------------------------------------------------------------------------
    def encode(self, source: Tensor, source_lengths: Tensor | None = None) -> Context:
        """The encoder's states and the decoder's start: ``{"memory": h (B, S, 2H), "keys": U_a h (B, S, A),
        "mask": (B, S) True at the real symbols, "s": s_0 (B, D)}`` (and ``"c"``, an LSTM decoder's cell)."""
        n = lengths_of(source, source_lengths, "source")  # (B,)
        h, final = self.encoder(self.drop(self.source_embed(source)), lengths=n)  # (B, S, 2H), 0 on padding
        h_n = final[0] if isinstance(final, tuple) else final  # (layers·2, B, H)
        s = torch.tanh(self.bridge(torch.cat([h_n[-2], h_n[-1]], -1)))  # s_0 = tanh(W_s [→h_S; ←h_1])
        context = {"memory": h, "keys": self.attend.project_keys(h), "mask": padding_mask(n, source.shape[1]),
                   "s": s}
        if self.config.cell == "lstm":
            context["c"] = torch.zeros_like(s)
        return context

    def decode_step(self, context: Context, previous: Tensor) -> tuple[Tensor, Tensor, Context]:
        """One step from ``y_{t−1}`` (B,) → ``(logits (B, V), α_t (B, S), the context with s_t)``."""
        c_t, alpha = self.attend(context["s"], context["memory"], context["mask"], keys=context["keys"])  # R9
        x = torch.cat([self.drop(self.target_embed(previous)), c_t], -1)  # [E_y y_{t−1}; c_t]
        if self.config.cell == "lstm":
            s, cell = self.decoder(x, (context["s"], context["c"]))
            context = {**context, "s": s, "c": cell}
        else:
            s = self.decoder(x, context["s"])
            context = {**context, "s": s}
        o = torch.tanh(self.combine(torch.cat([s, c_t], -1)))  # o_t = tanh(W_c [s_t; c_t])
        return self.head(self.drop(o)), alpha, context

    def teacher_forced(self, source: Tensor, given: Tensor, source_lengths: Tensor | None = None
                       ) -> tuple[Tensor, Tensor]:
        """The decoder fed ``given`` (B, T) → ``(logits (B, T, V), α (B, T, S))``."""
        context = self.encode(source, source_lengths)
        logits, weights = [], []
        for t in range(given.shape[1]):
            z, alpha, context = self.decode_step(context, given[:, t])
            logits.append(z)
            weights.append(alpha)
        return torch.stack(logits, 1), torch.stack(weights, 1)

    def forward(self, source: Tensor, target: Tensor, source_lengths: Tensor | None = None,
                target_lengths: Tensor | None = None, group: Tensor | None = None) -> Seq2SeqOutput:
        """F2 per output symbol, teacher-forced (``group`` is read by evaluation, not here)."""
        given, wanted, real = teacher_forcing(target, target_lengths, self.target_vocab)
        logits, _ = self.teacher_forced(source, given, source_lengths)
        return symbol_loss(logits, wanted, real, self.config.label_smoothing)

    # --- decoding ----------------------------------------------------------------------------------------
    def next_log_probs(self, context: Context, prefix: Tensor) -> tuple[Tensor, Context]:
        """``log p(y_t | y_<t, x)`` (B, V) after ``prefix`` (B, t): one decoder step from its last symbol."""
        logits, _, context = self.decode_step(context, prefix[:, -1])
        return logits.log_softmax(-1), context

    def attention_of(self, source: Tensor, given: Tensor, source_lengths: Tensor | None = None) -> Tensor:
        """``α`` (B, T, S) of the decoder fed ``given`` (B, T)."""
        return self.teacher_forced(source, given, source_lengths)[1]
