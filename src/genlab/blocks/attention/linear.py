"""Linear attention (A8): Katharopoulos et al. 2020, "Transformers are RNNs: Fast Autoregressive
Transformers with Linear Attention", arXiv:2006.16236.

``h_i = φ(q_i)ᵀ S / φ(q_i)ᵀ Z`` with ``S = Σ_j φ(k_j) v_jᵀ``, ``Z = Σ_j φ(k_j)`` and
``φ(x) = elu(x) + 1``: cost ``O(n d²)`` instead of ``O(n² d)``. The causal version sums only over
``j ≤ i``: an RNN over ``(S_i, Z_i)``, or, for speed, chunks of positions (quadratic inside a chunk,
prefix sums of ``S``, ``Z`` across chunks). Tensors are ``(B, H, L, d)``; ``eps`` guards the
denominator (a query with no visible key returns zeros).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.blocks.attention.masks import causal_mask
from genlab.blocks.attention.multihead import MultiHeadAttention
from genlab.errors import ConfigError, ShapeError

FeatureMap = Callable[[Tensor], Tensor]


def elu_feature_map(x: Tensor) -> Tensor:
    """``φ(x) = elu(x) + 1`` (A8): positive, so ``φ(q)ᵀφ(k) > 0`` acts as an unnormalized weight."""
    return F.elu(x) + 1.0


def _features(q: Tensor, k: Tensor, key_mask: Tensor | None,
              feature_map: FeatureMap) -> tuple[Tensor, Tensor]:
    if q.dim() != 4 or k.dim() != 4:
        raise ShapeError(f"linear attention expects (B, H, L, d) tensors, got {tuple(q.shape)} and "
                         f"{tuple(k.shape)}")
    phi_q, phi_k = feature_map(q), feature_map(k)
    if key_mask is not None:
        phi_k = phi_k * key_mask[:, None, :, None].to(phi_k.dtype)  # masked keys contribute nothing
    return phi_q, phi_k


def linear_attention(q: Tensor, k: Tensor, v: Tensor, *, key_mask: Tensor | None = None, eps: float = 1e-6,
                     feature_map: FeatureMap = elu_feature_map) -> Tensor:
    """Non-causal linear attention (A8): ``h_i = φ(q_i)ᵀ S / (φ(q_i)ᵀ Z + ε)``. ``(B, H, L, d_v)``."""
    phi_q, phi_k = _features(q, k, key_mask, feature_map)  # (B, H, L, d), (B, H, S, d)
    S = phi_k.transpose(-2, -1) @ v  # S = Σ_j φ(k_j) v_jᵀ   (B, H, d, d_v)
    Z = phi_k.sum(dim=-2)  # Z = Σ_j φ(k_j)   (B, H, d)
    return (phi_q @ S) / (phi_q @ Z[..., None] + eps)  # (B, H, L, d_v)


def causal_linear_attention_recurrent(q: Tensor, k: Tensor, v: Tensor, *, key_mask: Tensor | None = None,
                                      eps: float = 1e-6, feature_map: FeatureMap = elu_feature_map) -> Tensor:
    """Causal linear attention as an RNN (A8): ``S_i = S_{i−1} + φ(k_i) v_iᵀ``, ``Z_i = Z_{i−1} + φ(k_i)``,
    ``h_i = φ(q_i)ᵀ S_i / (φ(q_i)ᵀ Z_i + ε)``; one step per position (the view used for generation)."""
    phi_q, phi_k = _features(q, k, key_mask, feature_map)
    B, H, L, d = phi_q.shape
    if phi_k.shape[-2] != L:
        raise ShapeError(f"the recurrent form needs as many keys as queries, got {L} and {phi_k.shape[-2]}")
    S_i = v.new_zeros(B, H, d, v.shape[-1])  # (B, H, d, d_v)
    Z_i = v.new_zeros(B, H, d)  # (B, H, d)
    outputs = []
    for i in range(L):
        S_i = S_i + phi_k[:, :, i, :, None] * v[:, :, i, None, :]  # + φ(k_i) v_iᵀ
        Z_i = Z_i + phi_k[:, :, i]  # + φ(k_i)
        num = (phi_q[:, :, i, None, :] @ S_i).squeeze(-2)  # φ(q_i)ᵀ S_i   (B, H, d_v)
        den = (phi_q[:, :, i] * Z_i).sum(-1, keepdim=True)  # φ(q_i)ᵀ Z_i   (B, H, 1)
        outputs.append(num / (den + eps))
    return torch.stack(outputs, dim=2)  # (B, H, L, d_v)


def causal_linear_attention(q: Tensor, k: Tensor, v: Tensor, *, chunk_size: int = 64,
                            key_mask: Tensor | None = None, eps: float = 1e-6,
                            feature_map: FeatureMap = elu_feature_map) -> Tensor:
    """Causal linear attention (A8), chunked: equal to the recurrent form, vectorized over positions.

    Positions are cut into chunks of ``C``; inside a chunk the masked products ``φ(q_i)ᵀφ(k_j)``,
    ``j ≤ i``, are computed directly (``C × C``), and the state ``(S, Z)`` of all earlier chunks comes
    from an exclusive prefix sum over chunks. Cost ``O(L·C·d + L·d²)``.
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be ≥ 1, got {chunk_size}")
    phi_q, phi_k = _features(q, k, key_mask, feature_map)
    B, H, L, d = phi_q.shape
    if phi_k.shape[-2] != L:
        raise ShapeError(f"the chunked form needs as many keys as queries, got {L} and {phi_k.shape[-2]}")
    dv, C = v.shape[-1], min(chunk_size, L)
    N = -(-L // C)  # number of chunks
    pad = N * C - L  # zero features at the end: padded keys add nothing, padded queries are dropped
    phi_q, phi_k, v = (F.pad(t, (0, 0, 0, pad)) for t in (phi_q, phi_k, v))
    qc, kc = phi_q.view(B, H, N, C, d), phi_k.view(B, H, N, C, d)
    vc = v.view(B, H, N, C, dv)
    KV = kc.transpose(-2, -1) @ vc  # per chunk Σ_j φ(k_j) v_jᵀ   (B, H, N, d, d_v)
    K = kc.sum(dim=-2)  # per chunk Σ_j φ(k_j)   (B, H, N, d)
    S_prev = torch.cat([torch.zeros_like(KV[:, :, :1]), KV[:, :, :-1]], dim=2).cumsum(dim=2)  # earlier chunks
    Z_prev = torch.cat([torch.zeros_like(K[:, :, :1]), K[:, :, :-1]], dim=2).cumsum(dim=2)
    A = (qc @ kc.transpose(-2, -1)) * causal_mask(C, device=q.device)  # φ(q_i)ᵀφ(k_j), j ≤ i  (B,H,N,C,C)
    num = A @ vc + qc @ S_prev  # (B, H, N, C, d_v)
    den = A.sum(dim=-1, keepdim=True) + qc @ Z_prev[..., None]  # (B, H, N, C, 1)
    return (num / (den + eps)).view(B, H, N * C, dv)[:, :, :L]


class LinearAttentionCache:
    """The recurrent state of causal linear attention (A8) over the positions processed so far, for one layer:
    ``S = Σ_j φ(k_j) v_jᵀ`` (B, H, d, d_v) and ``Z = Σ_j φ(k_j)`` (B, H, d) — the "transformer as an RNN" view
    of Katharopoulos et al. 2020 used for generation: memory constant in the length (the counterpart of
    ``KVCache`` for softmax attention). ``length``: the positions it holds."""

    def __init__(self) -> None:
        self.S: Tensor | None = None
        self.Z: Tensor | None = None
        self.length = 0

    def attend(self, q: Tensor, k: Tensor, v: Tensor, *, eps: float = 1e-6,
               feature_map: FeatureMap = elu_feature_map) -> Tensor:
        """Causal linear attention of ``L`` new positions ``(B, H, L, d)`` after those the state holds, which
        then holds them too (one chunk of ``causal_linear_attention``) → ``(B, H, L, d_v)``:
        ``h_i = (Σ_{new j ≤ i} φ(q_i)ᵀφ(k_j) v_j + φ(q_i)ᵀ S) / (Σ_{new j ≤ i} φ(q_i)ᵀφ(k_j) + φ(q_i)ᵀ Z + ε)``."""
        phi_q, phi_k = _features(q, k, None, feature_map)  # (B, H, L, d)
        L = phi_q.shape[-2]
        if phi_k.shape[-2] != L:
            raise ShapeError(f"the recurrent state takes as many new keys as queries, got {L} and {phi_k.shape[-2]}")
        A = (phi_q @ phi_k.transpose(-2, -1)) * causal_mask(L, device=q.device)  # φ(q_i)ᵀφ(k_j), j ≤ i  (B,H,L,L)
        num, den = A @ v, A.sum(dim=-1, keepdim=True)  # (B, H, L, d_v), (B, H, L, 1)
        KV, K = phi_k.transpose(-2, -1) @ v, phi_k.sum(dim=-2)  # the new positions' Σ φ(k_j) v_jᵀ, Σ φ(k_j)
        if self.S is not None:  # the earlier positions, through the state
            num = num + phi_q @ self.S
            den = den + phi_q @ self.Z[..., None]
            KV, K = self.S + KV, self.Z + K
        self.S, self.Z, self.length = KV, K, self.length + L
        return num / (den + eps)


def linear_attention_quadratic(q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False,
                               key_mask: Tensor | None = None, eps: float = 1e-6,
                               feature_map: FeatureMap = elu_feature_map) -> Tensor:
    """The explicit ``O(n²)`` formula of A8: ``h_i = Σ_j φ(q_i)ᵀφ(k_j) v_j / (Σ_j φ(q_i)ᵀφ(k_j) + ε)``
    over the visible ``j`` — the reference the linear-cost forms are tested against."""
    phi_q, phi_k = _features(q, k, key_mask, feature_map)
    A = phi_q @ phi_k.transpose(-2, -1)  # (B, H, L, S)
    if causal:
        A = A * causal_mask(q.shape[-2], k.shape[-2], device=q.device)
    return (A @ v) / (A.sum(dim=-1, keepdim=True) + eps)


class LinearMultiHeadAttention(MultiHeadAttention):
    """``MultiHeadAttention`` (A4) whose heads use linear attention (A8) instead of softmax attention.

    Same parameters as ``MultiHeadAttention``. Supports ``causal`` (chunked form) and ``key_mask``; for
    generation a ``LinearAttentionCache`` (the recurrent form: one step per new position at constant cost) as
    ``cache=``. General masks, score biases and ``KVCache``s are softmax-attention features and raise
    ``ConfigError``.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, chunk_size: int = 64,
                 feature_map: FeatureMap = elu_feature_map, eps: float = 1e-6) -> None:
        super().__init__(embed_dim, num_heads, dropout=0.0, bias=bias)
        self.chunk_size, self.feature_map, self.eps = chunk_size, feature_map, eps

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, *, causal: bool, key_mask: Tensor | None,
                mask: Tensor | None, bias: Tensor | None, cache: LinearAttentionCache | None = None) -> Tensor:
        if mask is not None or bias is not None:
            raise ConfigError("linear attention supports causal= and key_mask= only (no mask= or bias=)")
        if cache is not None:
            if not isinstance(cache, LinearAttentionCache) or not causal or key_mask is not None:
                raise ConfigError(f"linear attention decodes with a LinearAttentionCache, causal=True and no "
                                  f"key_mask (its recurrent form), got a {type(cache).__name__}, causal={causal}"
                                  f"{', a key_mask' if key_mask is not None else ''}")
            return cache.attend(q, k, v, eps=self.eps, feature_map=self.feature_map)
        if causal:
            if q.shape[-2] != k.shape[-2]:
                raise ConfigError("causal linear attention needs as many keys as queries: decode with a "
                                  "LinearAttentionCache (cache=)")
            return causal_linear_attention(q, k, v, chunk_size=self.chunk_size, key_mask=key_mask,
                                           eps=self.eps, feature_map=self.feature_map)
        return linear_attention(q, k, v, key_mask=key_mask, eps=self.eps, feature_map=self.feature_map)
