"""Attention masks (A3) and the softmax over the keys a query may see.

Convention everywhere in genlab: a boolean mask is ``True`` where a query **may attend** (as in
``F.scaled_dot_product_attention``). Note that ``torch.nn.MultiheadAttention``'s ``key_padding_mask``
and boolean ``attn_mask`` mean the opposite (``True`` = hidden): pass ``~mask`` when porting code.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genlab.errors import ShapeError


def causal_mask(L: int, S: int | None = None, device: torch.device | str | None = None) -> Tensor:
    """Causal mask (A3): ``M_ij = True`` (score kept, i.e. ``+0``) iff ``j ≤ i``, else hidden (``−∞``).

    ``(L, S)`` boolean. With ``S > L`` (queries are the last ``L`` of ``S`` positions, as when decoding
    with a key/value cache) query ``i`` sits at position ``i + S − L`` and sees keys ``j ≤ i + S − L``.
    """
    S = L if S is None else S
    i = torch.arange(L, device=device)[:, None]
    j = torch.arange(S, device=device)[None, :]
    return j <= i + (S - L)  # (L, S)


def padding_mask(lengths: Tensor | Sequence[int], S: int) -> Tensor:
    """Key padding mask ``(B, S)``: ``True`` at the first ``lengths[b]`` (real) keys of sequence ``b``."""
    lengths = torch.as_tensor(lengths)
    return torch.arange(S, device=lengths.device)[None, :] < lengths[:, None]


def attention_mask(L: int, S: int, *, causal: bool = False, key_mask: Tensor | None = None,
                   mask: Tensor | None = None, device: torch.device | None = None) -> Tensor | None:
    """Combine a causal mask, a key padding mask ``(B, S)`` and a general ``mask`` (broadcastable to
    ``(B, H, L, S)``) into one boolean mask broadcastable to ``(B, H, L, S)``; ``None`` if no mask."""
    out = causal_mask(L, S, device) if causal else None  # (L, S)
    if key_mask is not None:
        if key_mask.dim() != 2 or key_mask.shape[-1] != S:
            raise ShapeError(f"key_mask must be (B, {S}) with True at real keys, got {tuple(key_mask.shape)}")
        km = key_mask.bool()[:, None, None, :]  # (B, 1, 1, S)
        out = km if out is None else out & km
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ShapeError(f"mask must be boolean (True = may attend), got {mask.dtype}: pass a float "
                             f"additive mask as bias=")
        out = mask if out is None else out & mask
    return out


def masked_softmax(scores: Tensor, allowed: Tensor | None = None, dim: int = -1) -> Tensor:
    """``softmax`` over the allowed entries (A3: hidden scores set to ``−∞``); rows with no allowed
    entry give all-zero weights, never NaN, and pass zero gradient."""
    if allowed is None:
        return torch.softmax(scores, dim=dim)
    scores = scores.masked_fill(~allowed, float("-inf"))
    any_allowed = allowed.any(dim=dim, keepdim=True)
    scores = scores.masked_fill(~any_allowed, 0.0)  # a finite dummy row instead of 0/0 ...
    return torch.softmax(scores, dim=dim) * any_allowed  # ... zeroed afterwards
