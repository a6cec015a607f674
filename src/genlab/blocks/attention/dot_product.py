"""Scaled dot-product attention (A1) with masks (A3), its plain reference, cosine similarity (A2)
and hard attention (A11).

Tensors are ``(B, H, L, D)`` (batch, heads, positions, features): with 4-D inputs
``F.scaled_dot_product_attention`` runs its fused, memory-efficient CPU kernel. Masks follow
``masks.py``: ``True`` = may attend.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.blocks.attention.masks import attention_mask, masked_softmax
from genlab.errors import ConfigError, ShapeError


def _check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ShapeError(f"attention expects (B, H, L, D) tensors, got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}: split heads with "
                         f"x.view(B, L, H, D).transpose(1, 2), or use x[:, None] for a single head")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"q and k need the same feature size and k and v the same length, got "
                         f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False,
                                 key_mask: Tensor | None = None, mask: Tensor | None = None,
                                 bias: Tensor | None = None, dropout_p: float = 0.0,
                                 scale: float | None = None) -> Tensor:
    """``H = softmax(Q Kᵀ / √d + M) V`` (A1, mask A3) through PyTorch's fused kernel.

    ``q`` (B, H, L, d), ``k`` (B, H, S, d), ``v`` (B, H, S, d_v) → (B, H, L, d_v). ``causal`` hides keys
    after each query (aligned to the end when ``S > L``, as in cached decoding), ``key_mask`` (B, S) is
    ``True`` at real keys, ``mask`` is a boolean mask broadcastable to (B, H, L, S), ``bias`` an additive
    float score bias (e.g. relative positions, A9). A query with no visible key returns zeros.
    Vaswani et al. 2017, "Attention Is All You Need", arXiv:1706.03762.
    """
    _check_qkv(q, k, v)
    L, S = q.shape[-2], k.shape[-2]
    if causal and L == S and key_mask is None and mask is None and bias is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True, scale=scale)
    # a single causal query (the newest position) sees every key: no mask needed
    allowed = attention_mask(L, S, causal=causal and L > 1, key_mask=key_mask, mask=mask, device=q.device)
    if bias is not None:
        bias = bias.to(q.dtype)
        attn_mask = bias if allowed is None else bias.masked_fill(~allowed, float("-inf"))
    else:
        attn_mask = allowed
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale)


def attention_weights(q: Tensor, k: Tensor, *, causal: bool = False, key_mask: Tensor | None = None,
                      mask: Tensor | None = None, bias: Tensor | None = None,
                      scale: float | None = None) -> Tensor:
    """The attention weights ``softmax_j(q_i·k_j / √d + M_ij)`` (A1, A3), ``(B, H, L, S)``; rows with no
    visible key are all zero."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, L, S): Q Kᵀ / √d
    if bias is not None:
        scores = scores + bias
    allowed = attention_mask(q.shape[-2], k.shape[-2], causal=causal, key_mask=key_mask, mask=mask,
                             device=q.device)
    return masked_softmax(scores, allowed)


def attention_reference(q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False,
                        key_mask: Tensor | None = None, mask: Tensor | None = None,
                        bias: Tensor | None = None, scale: float | None = None) -> Tensor:
    """Plain implementation of A1/A3, ``softmax(Q Kᵀ/√d + M) V`` with the ``(L, S)`` score matrix
    written out; the reference the fused ``scaled_dot_product_attention`` is tested against."""
    _check_qkv(q, k, v)
    return attention_weights(q, k, causal=causal, key_mask=key_mask, mask=mask, bias=bias, scale=scale) @ v


def cosine_similarity(a: Tensor, b: Tensor, dim: int = -1, eps: float = 1e-8) -> Tensor:
    """Cosine similarity (A2): ``Σ A_i B_i / (√Σ A_i² √Σ B_i²)`` along ``dim`` (broadcasting).

    Each norm is clamped below by ``eps``, as ``F.cosine_similarity`` does.
    """
    dot = (a * b).sum(dim)
    na = torch.linalg.vector_norm(a, dim=dim).clamp_min(eps)
    nb = torch.linalg.vector_norm(b, dim=dim).clamp_min(eps)
    return dot / (na * nb)


def hard_attention(q: Tensor, k: Tensor, v: Tensor, *, mode: Literal["argmax", "sample"] = "argmax",
                   causal: bool = False, key_mask: Tensor | None = None,
                   generator: torch.Generator | None = None) -> Tensor:
    """Hard attention (A11): each query reads one value — at the argmax of its scores, or sampled
    from the softmax weights — instead of their weighted average. ``(B, H, L, d_v)``.

    Xu et al. 2015, "Show, Attend and Tell", arXiv:1502.03044. Not differentiable with respect to
    the choice (``argmax`` passes gradients to the chosen value only). Queries with no visible key
    return zeros.
    """
    _check_qkv(q, k, v)
    if mode not in ("argmax", "sample"):
        raise ConfigError(f"hard attention mode must be 'argmax' or 'sample', got {mode!r}")
    w = attention_weights(q, k, causal=causal, key_mask=key_mask)  # (B, H, L, S)
    if mode == "argmax":
        idx = w.argmax(dim=-1)  # (B, H, L)
    else:
        flat = w.detach().flatten(0, -2)  # (B·H·L, S)
        empty = flat.sum(-1, keepdim=True) == 0
        idx = torch.multinomial(flat.masked_fill(empty, 1.0), 1, generator=generator).view(w.shape[:-1])
    picked = v.gather(2, idx[..., None].expand(*idx.shape, v.shape[-1]))  # (B, H, L, d_v)
    return picked * (w.sum(-1, keepdim=True) > 0)  # zero where no key was visible
