"""Multi-head attention (A4) with PyTorch's parameter layout, and the key/value cache for decoding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.blocks.attention.dot_product import attention_weights, scaled_dot_product_attention
from genlab.errors import ConfigError, ShapeError


class KVCache:
    """Keys and values of the positions processed so far, for one attention layer (A7 decoding).

    ``update(k, v)`` appends the new positions' ``(B, H, L, d)`` keys and values and returns all of
    them, ``(B, H, S, d)``. Attention layers given a cache attend over the cached and the new positions.
    """

    def __init__(self) -> None:
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    @property
    def length(self) -> int:
        """Number of positions stored."""
        return 0 if self.k is None else self.k.shape[-2]

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append the new positions' keys and values ``(B, H, L, d)``; return all ``(B, H, S, d)``."""
        self.k = k if self.k is None else torch.cat([self.k, k], dim=-2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=-2)
        return self.k, self.v


class MultiHeadAttention(nn.Module):
    """Multi-head attention (A4): ``h`` heads of scaled dot-product attention (A1) on split projections,
    concatenated, then an output projection. Vaswani et al. 2017, arXiv:1706.03762.

    ``MHA(X) = [head_1 ∥ … ∥ head_h] W_o``, ``head_i = softmax(Q_i K_iᵀ/√d_h) V_i``,
    ``Q_i = X W_q^(i)``. Parameters (``in_proj_weight`` (3E, E), ``in_proj_bias`` (3E,),
    ``out_proj.weight``, ``out_proj.bias``) and initialization are ``torch.nn.MultiheadAttention``'s, so a
    ``state_dict`` moves between the two and outputs match ``batch_first=True``. Without positions it is
    permutation-equivariant: ``MHA(P X) = P MHA(X)``.

    ``forward(query (B, L, E), key=None, value=None, *, causal, key_mask (B, S), mask, bias, cache)``
    → (B, L, E); ``key``/``value`` default to ``query`` (self-attention). Masks: ``True`` = may attend
    (see ``masks.py``; the opposite of ``nn.MultiheadAttention``'s ``key_padding_mask``).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ConfigError(f"embed_dim ({embed_dim}) must be a positive multiple of "
                              f"num_heads ({num_heads})")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"attention dropout must be in [0, 1), got {dropout}")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))  # [W_q; W_k; W_v]
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)  # W_o
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``torch.nn.MultiheadAttention``'s initialization (Xavier-uniform projections, zero biases)."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, x: Tensor) -> Tensor:  # (B, L, E) -> (B, h, L, d_h)
        B, L, _ = x.shape
        return x.view(B, L, self.num_heads, self.head_dim).transpose(1, 2)

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        W, b = self.in_proj_weight, self.in_proj_bias
        if key is query and value is query:  # self-attention: one matmul for Q, K, V
            return F.linear(query, W, b).chunk(3, dim=-1)
        E = self.embed_dim
        b_q, b_kv = (None, None) if b is None else b.split([E, 2 * E])
        q = F.linear(query, W[:E], b_q)  # Q = X W_q
        if key is value:
            k, v = F.linear(key, W[E:], b_kv).chunk(2, dim=-1)
        else:
            b_k, b_v = (None, None) if b_kv is None else b_kv.chunk(2)
            k, v = F.linear(key, W[E : 2 * E], b_k), F.linear(value, W[2 * E :], b_v)
        return q, k, v

    def forward(self, query: Tensor, key: Tensor | None = None, value: Tensor | None = None, *,
                causal: bool = False, key_mask: Tensor | None = None, mask: Tensor | None = None,
                bias: Tensor | None = None, cache: KVCache | None = None) -> Tensor:
        key = query if key is None else key
        value = key if value is None else value
        for name, t in (("query", query), ("key", key), ("value", value)):
            if t.dim() != 3 or t.shape[-1] != self.embed_dim:
                raise ShapeError(f"{type(self).__name__} expects {name} of shape (B, L, {self.embed_dim}) "
                                 f"(batch first), got {tuple(t.shape)}")
        q, k, v = (self._split_heads(t) for t in self._project(query, key, value))  # (B, h, L|S, d_h)
        h = self._attend(q, k, v, causal=causal, key_mask=key_mask, mask=mask, bias=bias,
                         cache=cache)  # (B, h, L, d_h)
        B, _, L, _ = h.shape
        return self.out_proj(h.transpose(1, 2).reshape(B, L, self.embed_dim))  # [head_1 ∥ … ∥ head_h] W_o

    def weights(self, query: Tensor, key: Tensor | None = None, *, causal: bool = False,
                key_mask: Tensor | None = None) -> Tensor:
        """Each head's attention weights ``softmax_j(Q_i K_iᵀ / √d_h)`` (B, h, L, S) for these inputs (what the
        forward pass averages the values with; no dropout): to look at where a head attends."""
        key = query if key is None else key
        q, k, _ = (self._split_heads(t) for t in self._project(query, key, key))
        return attention_weights(q, k, causal=causal, key_mask=key_mask)

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, *, causal: bool, key_mask: Tensor | None,
                mask: Tensor | None, bias: Tensor | None, cache: KVCache | None = None) -> Tensor:
        if cache is not None:
            k, v = cache.update(k, v)  # attend over the cached positions too
        p = self.dropout if self.training else 0.0
        return scaled_dot_product_attention(q, k, v, causal=causal, key_mask=key_mask, mask=mask, bias=bias,
                                            dropout_p=p)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
