"""Transformer blocks (A6) and the causal decoder-only stack (A7) with a key/value cache.

Submodule names equal ``torch.nn.TransformerEncoderLayer`` / ``TransformerDecoderLayer``'s
(``self_attn``, ``multihead_attn``, ``linear1``, ``linear2``, ``norm1..3``), so their ``state_dict``s
move between genlab and PyTorch. Batch-first: ``(B, T, D)``.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from genlab.blocks.attention.multihead import KVCache, MultiHeadAttention
from genlab.blocks.norm import LayerNorm
from genlab.blocks.positional import LearnedPositions, PositionalEncoding, SinusoidalPositions
from genlab.errors import ConfigError, ShapeError

Activation = Literal["relu", "gelu"]


class _FeedForward(nn.Module):
    """Position-wise feed-forward network ``FFN(x) = W_2 act(W_1 x + b_1) + b_2`` (hidden in ``linear1``)."""

    def __init__(self, d_model: int, dim_feedforward: int, dropout: float,
                 activation: Activation) -> None:
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ConfigError(f"activation must be 'relu' or 'gelu', got {activation!r}")
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.activation = F.relu if activation == "relu" else F.gelu

    def _ff(self, x: Tensor) -> Tensor:  # (B, T, D) -> (B, T, D)
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class TransformerEncoderBlock(_FeedForward):
    """Transformer block (A6): self-attention and feed-forward sub-layers, each with a residual.

    Post-norm (the notes' and Vaswani et al. 2017's form, arXiv:1706.03762):
    ``X ← LN(X + MHA(X))``, ``X ← LN(X + FFN(X))``. Pre-norm (``norm_first=True``; Xiong et al. 2020,
    "On Layer Normalization in the Transformer Architecture", arXiv:2002.04745):
    ``X ← X + MHA(LN(X))``, ``X ← X + FFN(LN(X))``. With ``causal=True`` it is a decoder-only block
    (A7). Defaults and parameters equal ``torch.nn.TransformerEncoderLayer(batch_first=True)``'s.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = "relu", layer_norm_eps: float = 1e-5,
                 norm_first: bool = False) -> None:
        super().__init__(d_model, dim_feedforward, dropout, activation)
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.norm_first = norm_first

    def _sa(self, x: Tensor, causal: bool, key_mask: Tensor | None, cache: KVCache | None) -> Tensor:
        return self.dropout1(self.self_attn(x, causal=causal, key_mask=key_mask, cache=cache))

    def forward(self, x: Tensor, *, causal: bool = False, key_mask: Tensor | None = None,
                cache: KVCache | None = None) -> Tensor:  # (B, T, D) -> (B, T, D)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), causal, key_mask, cache)  # X ← X + MHA(LN(X))
            return x + self.dropout2(self._ff(self.norm2(x)))  # X ← X + FFN(LN(X))
        x = self.norm1(x + self._sa(x, causal, key_mask, cache))  # X ← LN(X + MHA(X))
        return self.norm2(x + self.dropout2(self._ff(x)))  # X ← LN(X + FFN(X))


class TransformerDecoderBlock(_FeedForward):
    """Encoder–decoder transformer block (A6): causal self-attention, cross-attention to the encoder's
    ``memory``, feed-forward; post-norm or pre-norm as ``TransformerEncoderBlock``. Parameters equal
    ``torch.nn.TransformerDecoderLayer(batch_first=True)``'s."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = "relu", layer_norm_eps: float = 1e-5,
                 norm_first: bool = False) -> None:
        super().__init__(d_model, dim_feedforward, dropout, activation)
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout)
        self.multihead_attn = MultiHeadAttention(d_model, nhead, dropout=dropout)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x: Tensor, memory: Tensor, *, causal: bool = True, key_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, cache: KVCache | None = None) -> Tensor:
        """``x`` (B, T, D) decoder input, ``memory`` (B, S, D) encoder output, ``memory_mask`` (B, S)
        ``True`` at real encoder positions → (B, T, D)."""
        def sa(h: Tensor) -> Tensor:
            return self.dropout1(self.self_attn(h, causal=causal, key_mask=key_mask, cache=cache))

        def ca(h: Tensor) -> Tensor:  # queries from the decoder, keys and values from the encoder
            return self.dropout2(self.multihead_attn(h, memory, memory, key_mask=memory_mask))

        if self.norm_first:
            x = x + sa(self.norm1(x))
            x = x + ca(self.norm2(x))
            return x + self.dropout3(self._ff(self.norm3(x)))
        x = self.norm1(x + sa(x))
        x = self.norm2(x + ca(x))
        return self.norm3(x + self.dropout3(self._ff(x)))


class CausalTransformer(nn.Module):
    """Decoder-only causal transformer stack (A7): positions (A5, added), ``num_layers`` causal blocks
    (A6 with the mask A3), and a final layer norm for pre-norm stacks (as GPT-2, Radford et al. 2019).

    ``forward(x (B, T, D), cache=None)`` → hidden states (B, T, D); token embedding and output head
    belong to the model. For generation, ``cache = stack.new_cache()`` and feed the new positions only:
    each call attends over everything cached, so the result equals recomputing the whole sequence.
    """

    def __init__(self, d_model: int, nhead: int, num_layers: int, dim_feedforward: int | None = None,
                 dropout: float = 0.0, positions: Literal["sinusoidal", "learned", "none"] = "sinusoidal",
                 max_len: int = 1024, norm_first: bool = True, activation: Activation = "gelu") -> None:
        super().__init__()
        if num_layers < 1:
            raise ConfigError(f"num_layers must be ≥ 1, got {num_layers}")
        if positions not in ("sinusoidal", "learned", "none"):
            raise ConfigError(f"positions must be 'sinusoidal', 'learned' or 'none', got {positions!r}")
        table = {"sinusoidal": lambda: SinusoidalPositions(d_model),
                 "learned": lambda: LearnedPositions(max_len, d_model)}
        self.positions = PositionalEncoding(table[positions]()) if positions != "none" else None
        self.blocks = nn.ModuleList(
            TransformerEncoderBlock(d_model, nhead, dim_feedforward or 4 * d_model, dropout, activation,
                                    norm_first=norm_first) for _ in range(num_layers))
        self.norm = LayerNorm(d_model) if norm_first else nn.Identity()
        self.d_model = d_model

    def new_cache(self) -> list[KVCache]:
        """One empty key/value cache per block."""
        return [KVCache() for _ in self.blocks]

    def forward(self, x: Tensor, *, cache: list[KVCache] | None = None) -> Tensor:  # (B, T, D)
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ShapeError(f"CausalTransformer expects (B, T, {self.d_model}), got {tuple(x.shape)}")
        if cache is not None and len(cache) != len(self.blocks):
            raise ShapeError(f"cache has {len(cache)} entries for {len(self.blocks)} blocks: use new_cache()")
        offset = cache[0].length if cache is not None else 0  # position of x[:, 0]
        if self.positions is not None:
            x = self.positions(x, offset)
        for i, block in enumerate(self.blocks):
            x = block(x, causal=True, cache=None if cache is None else cache[i])
        return self.norm(x)
