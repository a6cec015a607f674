"""The transformer encoder–decoder (A6; Vaswani et al. 2017, arXiv:1706.03762) on a sequence-to-sequence task.

    X = √d · E_x[x] + P,   M = Enc(X)         (N encoder blocks: self-attention over the real x_i, A4, A6)
    Y = √d · E_y[<bos> y_<t] + P                (sinusoidal positions P, A5)
    p(y_t | y_<t, x) = softmax(W_o Dec(Y, M)_t)   (N decoder blocks: causal self-attention (A3), cross-attention
                                                   to M (queries from the decoder, keys and values from M), A6)

trained by teacher forcing on F2 per output symbol, the padding of both sides masked (key masks in the
attention, masked loss); pre-norm blocks (Xiong et al. 2020) with a final layer norm on each side, as the
notes' choice A6 allows. Decoding is greedy or beam search (``seq2seq.search``): each step recomputes the decoder
over the prefix (outputs are short). ``alignment`` returns the last decoder block's cross-attention weights,
averaged over the heads.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from torch import Tensor, nn

from genlab.blocks.attention import padding_mask
from genlab.blocks.norm import LayerNorm
from genlab.blocks.positional import SinusoidalPositions
from genlab.blocks.transformer import TransformerDecoderBlock, TransformerEncoderBlock
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


@dataclasses.dataclass
class TransformerSeq2SeqConfig(Seq2SeqConfig):
    d_model: int = 128
    nhead: int = 4
    encoder_layers: int = 3
    decoder_layers: int = 3
    dim_feedforward: int = 512
    dropout: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.d_model >= 1 and self.nhead >= 1 and self.d_model % self.nhead == 0,
                f"d_model ({self.d_model}) must be a positive multiple of nhead ({self.nhead})")
        require(min(self.encoder_layers, self.decoder_layers, self.dim_feedforward) >= 1,
                f"encoder_layers, decoder_layers and dim_feedforward must be ≥ 1, got {self.encoder_layers}, "
                f"{self.decoder_layers}, {self.dim_feedforward}")


class TransformerSeq2Seq(EncoderDecoder, Model, Transduces):
    """Transformer encoder–decoder with cross-attention (A6)."""

    config_class: ClassVar[type[Seq2SeqConfig]] = TransformerSeq2SeqConfig

    def __init__(self, config: TransformerSeq2SeqConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.build_vocabularies()
        self.source_embed = nn.Embedding(len(self.source_vocab), c.d_model, padding_idx=0)
        self.target_embed = nn.Embedding(len(self.target_vocab), c.d_model, padding_idx=0)
        for table in (self.source_embed, self.target_embed):  # × √d in _embed: unit-scale inputs, as P's
            nn.init.normal_(table.weight, std=c.d_model ** -0.5)
            table.weight.data[0].zero_()  # <pad>
        self.positions = SinusoidalPositions(c.d_model)  # A5: no length limit
        self.encoder = nn.ModuleList(
            TransformerEncoderBlock(c.d_model, c.nhead, c.dim_feedforward, c.dropout, "gelu", norm_first=True)
            for _ in range(c.encoder_layers))
        self.decoder = nn.ModuleList(
            TransformerDecoderBlock(c.d_model, c.nhead, c.dim_feedforward, c.dropout, "gelu", norm_first=True)
            for _ in range(c.decoder_layers))
        self.encoder_norm, self.decoder_norm = LayerNorm(c.d_model), LayerNorm(c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.d_model, len(self.target_vocab))

    def _embed(self, table: nn.Embedding, ids: Tensor) -> Tensor:  # (B, T) -> (B, T, d): √d · E[ids] + P
        return self.drop(table(ids) * math.sqrt(self.config.d_model) + self.positions(ids.shape[1]))

    def encode(self, source: Tensor, source_lengths: Tensor | None = None) -> Context:
        """``{"memory": M (B, S, d), "mask": (B, S) True at the real symbols}``."""
        n = lengths_of(source, source_lengths, "source")
        mask = padding_mask(n, source.shape[1])  # (B, S)
        h = self._embed(self.source_embed, source)
        for block in self.encoder:
            h = block(h, key_mask=mask)
        return {"memory": self.encoder_norm(h), "mask": mask}

    def decode(self, context: Context, given: Tensor) -> Tensor:
        """Logits (B, T, V) of the decoder fed ``given`` (B, T), causal, attending to the encoder's memory."""
        h = self._embed(self.target_embed, given)
        for block in self.decoder:
            h = block(h, context["memory"], causal=True, memory_mask=context["mask"])
        return self.head(self.decoder_norm(h))

    def forward(self, source: Tensor, target: Tensor, source_lengths: Tensor | None = None,
                target_lengths: Tensor | None = None, group: Tensor | None = None) -> Seq2SeqOutput:
        """F2 per output symbol, teacher-forced."""
        given, wanted, real = teacher_forcing(target, target_lengths, self.target_vocab)
        return symbol_loss(self.decode(self.encode(source, source_lengths), given), wanted, real,
                           self.config.label_smoothing)

    def next_log_probs(self, context: Context, prefix: Tensor) -> tuple[Tensor, Context]:
        """``log p(y_t | y_<t, x)`` (B, V) after ``prefix`` (B, t): the decoder recomputed over the prefix."""
        return self.decode(context, prefix)[:, -1].log_softmax(-1), context

    def attention_of(self, source: Tensor, given: Tensor, source_lengths: Tensor | None = None) -> Tensor:
        """The last decoder block's cross-attention weights, the mean of its heads, (B, T, S), for the decoder fed
        ``given`` (B, T)."""
        seen: dict[str, Any] = {}

        def keep(module, args, kwargs, result) -> None:
            seen["query"], seen["key"], seen["mask"] = args[0], args[1], kwargs.get("key_mask")

        attention = self.decoder[-1].multihead_attn
        hook = attention.register_forward_hook(keep, with_kwargs=True)
        try:
            self.decode(self.encode(source, source_lengths), given)
        finally:
            hook.remove()
        return attention.weights(seen["query"], seen["key"], key_mask=seen["mask"]).mean(1)
