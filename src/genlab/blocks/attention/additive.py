"""Additive (Bahdanau) attention (R9)."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from genlab.blocks.attention.masks import masked_softmax
from genlab.errors import ShapeError


class AttentionOutput(NamedTuple):
    """An attention read-out: the ``context`` vectors and the ``weights`` that produced them."""

    context: Tensor  # (B, D_k) or (B, L, D_k)
    weights: Tensor  # (B, S) or (B, L, S)


class AdditiveAttention(nn.Module):
    """Additive attention (R9): ``score(s, h_i) = v_aᵀ tanh(W_a s + U_a h_i)``, ``α = softmax_i(score)``,
    ``context = Σ_i α_i h_i``. Bahdanau, Cho & Bengio 2014, "Neural Machine Translation by Jointly
    Learning to Align and Translate", arXiv:1409.0473.

    ``forward(s, h, key_mask=None)``: decoder state(s) ``s`` (B, D_q) or (B, L, D_q), encoder states ``h``
    (B, S, D_k), ``key_mask`` (B, S) ``True`` at real positions → ``AttentionOutput(context, weights)``. A decoder
    that attends to the same ``h`` at every step computes ``U_a h`` once (``project_keys(h)``) and passes it as
    ``keys``.
    """

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.W_a = nn.Linear(query_dim, attention_dim, bias=False)
        self.U_a = nn.Linear(key_dim, attention_dim)
        self.v_a = nn.Linear(attention_dim, 1, bias=False)

    def project_keys(self, h: Tensor) -> Tensor:  # (B, S, D_k) -> (B, S, A)
        """``U_a h_i`` for every position: what the scores add to each query's ``W_a s``."""
        return self.U_a(h)

    def forward(self, s: Tensor, h: Tensor, key_mask: Tensor | None = None, *,
                keys: Tensor | None = None) -> AttentionOutput:
        if h.dim() != 3 or s.dim() not in (2, 3) or s.shape[0] != h.shape[0]:
            raise ShapeError(f"AdditiveAttention expects s (B, D_q) or (B, L, D_q) and h (B, S, D_k), got "
                             f"{tuple(s.shape)} and {tuple(h.shape)}")
        single = s.dim() == 2
        s = s[:, None] if single else s  # (B, L, D_q)
        keys = self.U_a(h) if keys is None else keys  # U_a h_i   (B, S, A)
        e = self.W_a(s)[:, :, None] + keys[:, None]  # W_a s + U_a h_i   (B, L, S, A)
        scores = self.v_a(e.tanh()).squeeze(-1)  # v_aᵀ tanh(...)   (B, L, S)
        allowed = None if key_mask is None else key_mask.bool()[:, None, :]
        weights = masked_softmax(scores, allowed)  # α_i = softmax_i(score)
        context = weights @ h  # Σ_i α_i h_i   (B, L, D_k)
        if single:
            return AttentionOutput(context[:, 0], weights[:, 0])
        return AttentionOutput(context, weights)
