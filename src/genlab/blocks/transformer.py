"""Transformer blocks (A6) and the causal decoder-only stack (A7) with a key/value cache.

Submodule names equal ``torch.nn.TransformerEncoderLayer`` / ``TransformerDecoderLayer``'s
(``self_attn``, ``multihead_attn``, ``linear1``, ``linear2``, ``norm1..3``), so their ``state_dict``s
move between genlab and PyTorch. Batch-first: ``(B, T, D)``. Their layer norms (N3) run through PyTorch's
fused kernel (``FusedLayerNorm``), as their attention runs through ``F.scaled_dot_product_attention``.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from genlab.blocks.attention.linear import LinearAttentionCache, LinearMultiHeadAttention
from genlab.blocks.attention.multihead import KVCache, MultiHeadAttention
from genlab.blocks.attention.relative import RelativePositionBias
from genlab.blocks.norm import LayerNorm
from genlab.blocks.positional import LearnedPositions, PositionalEncoding, SinusoidalPositions
from genlab.errors import ConfigError, ShapeError

Activation = Literal["relu", "gelu"]
Attention = Literal["softmax", "linear"]
Cache = KVCache | LinearAttentionCache


class FusedLayerNorm(LayerNorm):
    """Layer norm (N3) ``H' = γ (H − μ)/√(σ² + ε) + β`` through ``F.layer_norm``: one fused kernel forward and
    one backward instead of the seven tensor ops of ``LayerNorm``'s written-out formula, each kept for autograd
    (11× faster forward and backward on (64, 128, 128), one CPU thread). The same values up to rounding (tested
    against ``LayerNorm``), the same parameters and ``state_dict``; wrong shapes raise ``LayerNorm``'s
    ``ShapeError``."""

    def forward(self, x: Tensor) -> Tensor:  # (..., *normalized_shape)
        if tuple(x.shape[-len(self.normalized_shape):]) != self.normalized_shape:
            return super().forward(x)  # raises the ShapeError that names the expected shape
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


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
    ``attention="linear"``: the heads use linear attention (A8, ``LinearMultiHeadAttention``: same
    parameters, no attention dropout); ``forward(..., bias=)`` adds a score bias (relative positions, A9).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = "relu", layer_norm_eps: float = 1e-5,
                 norm_first: bool = False, attention: Attention = "softmax") -> None:
        super().__init__(d_model, dim_feedforward, dropout, activation)
        if attention not in ("softmax", "linear"):
            raise ConfigError(f"attention must be 'softmax' or 'linear', got {attention!r}")
        self.self_attn = (MultiHeadAttention(d_model, nhead, dropout=dropout) if attention == "softmax"
                          else LinearMultiHeadAttention(d_model, nhead))
        self.norm1 = FusedLayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = FusedLayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.norm_first = norm_first

    def _sa(self, x: Tensor, causal: bool, key_mask: Tensor | None, bias: Tensor | None,
            cache: Cache | None) -> Tensor:
        return self.dropout1(self.self_attn(x, causal=causal, key_mask=key_mask, bias=bias, cache=cache))

    def forward(self, x: Tensor, *, causal: bool = False, key_mask: Tensor | None = None,
                bias: Tensor | None = None, cache: Cache | None = None) -> Tensor:  # (B, T, D) -> (B, T, D)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), causal, key_mask, bias, cache)  # X ← X + MHA(LN(X))
            return x + self.dropout2(self._ff(self.norm2(x)))  # X ← X + FFN(LN(X))
        x = self.norm1(x + self._sa(x, causal, key_mask, bias, cache))  # X ← LN(X + MHA(X))
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
        self.norm1 = FusedLayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = FusedLayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = FusedLayerNorm(d_model, eps=layer_norm_eps)
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


def position_features(d_model: int, *, positions: str, combine: str = "add", position_dim: int | None = None,
                      attention: str = "softmax") -> int:
    """The number of features of the position vectors ``E`` of a ``CausalTransformer`` with these options
    (``d_model`` when added, ``position_dim`` (default ``d_model // 4``) when concatenated, 0 without vectors);
    ``ConfigError`` for options that do not combine. Model configs call it to check theirs early."""
    if positions not in ("sinusoidal", "learned", "relative", "none"):
        raise ConfigError(f"positions must be 'sinusoidal', 'learned', 'relative' or 'none', got {positions!r}")
    if combine not in ("add", "concat"):
        raise ConfigError(f"combine must be 'add' or 'concat', got {combine!r}")
    if attention not in ("softmax", "linear"):
        raise ConfigError(f"attention must be 'softmax' or 'linear', got {attention!r}")
    absolute = positions in ("sinusoidal", "learned")
    if combine == "concat" and not absolute:
        raise ConfigError(f"combine='concat' appends position vectors: it needs positions 'sinusoidal' or "
                          f"'learned', got {positions!r}")
    if position_dim is not None and combine != "concat":
        raise ConfigError(f"position_dim sets the concatenated part (combine='concat'); with combine={combine!r} "
                          f"the positions have d_model = {d_model} features: drop position_dim")
    if positions == "relative" and attention == "linear":
        raise ConfigError("linear attention (A8) never forms the scores a relative position bias (A9) is added "
                          "to: use positions 'sinusoidal', 'learned' or 'none' with it")
    if combine == "add":
        return d_model if absolute else 0
    position_dim = d_model // 4 if position_dim is None else position_dim
    if not 1 <= position_dim < d_model:
        raise ConfigError(f"position_dim must be in [1, d_model = {d_model}) to leave room for the inputs, "
                          f"got {position_dim}")
    return position_dim


class CausalTransformer(nn.Module):
    """Decoder-only causal transformer stack (A7): positions (A5 or A9), ``num_layers`` causal blocks
    (A6 with the mask A3), and a final layer norm for pre-norm stacks (as GPT-2, Radford et al. 2019).

    ``forward(x (B, T, input_dim), cache=None)`` → hidden states (B, T, d_model); token embedding and output
    head belong to the model. For generation, ``cache = stack.new_cache()`` and feed the new positions only:
    each call attends over everything cached, so the result equals recomputing the whole sequence.

    Options beyond the defaults:

    - ``positions``: ``"sinusoidal"`` or ``"learned"`` vectors ``E`` (A5, up to ``max_len`` for learned ones),
      ``"relative"``: no vectors, a learned score bias ``b_{clip(i − j, −K, K)}`` per head with ``K =
      max_distance`` (A9; one table shared by all blocks, as T5), ``"none"``: only the mask orders the tokens;
    - ``combine``: ``"add"`` ``X + E`` (``input_dim = d_model``), or ``"concat"`` ``[X ∥ E]``: ``d_model`` is
      split, the inputs bring ``input_dim = d_model − position_dim`` features and ``E`` the other
      ``position_dim`` (default ``d_model // 4``), so the blocks keep width ``d_model``;
    - ``attention="linear"``: linear attention in every block (A8); its cache is a ``LinearAttentionCache``
      (the recurrent state, constant size). It takes no score bias: not with ``positions="relative"``.
    """

    def __init__(self, d_model: int, nhead: int, num_layers: int, dim_feedforward: int | None = None,
                 dropout: float = 0.0, positions: Literal["sinusoidal", "learned", "relative", "none"] = "sinusoidal",
                 max_len: int = 1024, norm_first: bool = True, activation: Activation = "gelu", *,
                 combine: Literal["add", "concat"] = "add", position_dim: int | None = None,
                 attention: Attention = "softmax", max_distance: int = 32) -> None:
        super().__init__()
        if num_layers < 1:
            raise ConfigError(f"num_layers must be ≥ 1, got {num_layers}")
        dim = position_features(d_model, positions=positions, combine=combine, position_dim=position_dim,
                                attention=attention)  # features of E
        table = {"sinusoidal": lambda: SinusoidalPositions(dim), "learned": lambda: LearnedPositions(max_len, dim)}
        self.positions = PositionalEncoding(table[positions](), combine) if positions in table else None
        self.relative = RelativePositionBias(nhead, max_distance) if positions == "relative" else None
        self.blocks = nn.ModuleList(
            TransformerEncoderBlock(d_model, nhead, dim_feedforward or 4 * d_model, dropout, activation,
                                    norm_first=norm_first, attention=attention) for _ in range(num_layers))
        self.norm = FusedLayerNorm(d_model) if norm_first else nn.Identity()
        self.d_model, self.attention = d_model, attention
        self.input_dim = d_model - dim if combine == "concat" else d_model  # features of the inputs X

    def new_cache(self) -> list[Cache]:
        """One empty cache per block: keys and values (``KVCache``), or linear attention's state."""
        return [KVCache() if self.attention == "softmax" else LinearAttentionCache() for _ in self.blocks]

    def forward(self, x: Tensor, *, cache: list[Cache] | None = None) -> Tensor:  # (B, T, input_dim)
        if x.dim() != 3 or x.shape[-1] != self.input_dim:
            raise ShapeError(f"CausalTransformer expects (B, T, {self.input_dim}), got {tuple(x.shape)}")
        if cache is not None and len(cache) != len(self.blocks):
            raise ShapeError(f"cache has {len(cache)} entries for {len(self.blocks)} blocks: use new_cache()")
        offset = cache[0].length if cache is not None else 0  # position of x[:, 0]
        if self.positions is not None:
            x = self.positions(x, offset)  # X + E or [X ∥ E]: (B, T, d_model)
        T = x.shape[1]
        bias = None if self.relative is None else self.relative(T, offset + T)  # (H, T, offset + T)
        for i, block in enumerate(self.blocks):
            x = block(x, causal=True, bias=bias, cache=None if cache is None else cache[i])
        return self.norm(x)
