"""Softmax and cross-entropies computed from logits through log-sum-exp (F1–F3), and the discretized
Gaussian log-likelihood of 8-bit data (D4).

Never from probabilities: ``log softmax(z)_i = z_i − logsumexp(z)`` stays finite for any finite
logits, where ``log(softmax(z))`` underflows to ``−inf``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.errors import ConfigError, ShapeError

Reduction = Literal["mean", "sum", "none"]


def logsumexp(z: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    """``log Σ_i exp(z_i) = m + log Σ_i exp(z_i − m)`` with ``m = max_i z_i`` (no overflow)."""
    m = z.detach().amax(dim=dim, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # rows of −inf: keep them −inf, not NaN
    out = m + torch.log(torch.exp(z - m).sum(dim=dim, keepdim=True))
    return out if keepdim else out.squeeze(dim)


def log_softmax(logits: Tensor, dim: int = -1) -> Tensor:
    """``log softmax(z)_i = z_i − logsumexp(z)`` (F1, in log space)."""
    return logits - logsumexp(logits, dim=dim, keepdim=True)


def softmax(logits: Tensor, dim: int = -1) -> Tensor:
    """``softmax(z)_i = exp(z_i) / Σ_j exp(z_j)`` (F1); logits are the values before it."""
    return torch.exp(log_softmax(logits, dim))


def _reduce(loss: Tensor, reduction: Reduction, weight: Tensor | None = None) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / weight.sum() if weight is not None else loss.mean()
    raise ConfigError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def cross_entropy(logits: Tensor, target: Tensor, reduction: Reduction = "mean",
                  ignore_index: int = -100) -> Tensor:
    """Cross-entropy from logits (F2): ``CE(y, ŷ) = −Σ_i y_i log ŷ_i``, ``log ŷ = log_softmax(logits)``.

    ``logits`` (N, K). ``target`` is either class indices (N,) — then ``CE = −log ŷ_t``, and entries
    equal to ``ignore_index`` count for nothing — or class probabilities (N, K). Equals
    ``F.cross_entropy``.
    """
    if logits.dim() != 2:
        raise ShapeError(f"cross_entropy expects logits (N, K), got {tuple(logits.shape)}: "
                         f"flatten (B, T, K) to (B·T, K) and targets to (B·T,)")
    log_p = log_softmax(logits, dim=-1)  # (N, K)
    if target.is_floating_point():
        if target.shape != logits.shape:
            raise ShapeError(f"probability targets must have the logits' shape {tuple(logits.shape)}, "
                             f"got {tuple(target.shape)}")
        return _reduce(-(target * log_p).sum(-1), reduction)  # −Σ_i y_i log ŷ_i
    if target.shape != logits.shape[:1]:
        raise ShapeError(f"class targets must have shape ({logits.shape[0]},), got {tuple(target.shape)}")
    keep = target != ignore_index  # (N,)
    t = torch.where(keep, target, 0)
    loss = -log_p.gather(1, t[:, None]).squeeze(1) * keep  # −log ŷ_t
    return _reduce(loss, reduction, weight=keep.to(loss.dtype))


def binary_cross_entropy_with_logits(logits: Tensor, target: Tensor, reduction: Reduction = "mean") -> Tensor:
    """Binary cross-entropy from logits (F3): ``L = −[y log σ(z) + (1 − y) log(1 − σ(z))]``.

    Computed as ``(1 − y)·z + softplus(−z)`` with ``softplus(u) = log(1 + exp(u))`` = log-sum-exp of
    ``(0, u)`` evaluated without overflow: finite for any logit, gradient ``σ(z) − y`` everywhere.
    Equals ``F.binary_cross_entropy_with_logits``.
    """
    if logits.shape != target.shape:
        raise ShapeError(f"logits {tuple(logits.shape)} and targets {tuple(target.shape)} must have "
                         f"the same shape")
    loss = (1 - target) * logits + F.softplus(-logits)  # = −y log σ(z) − (1 − y) log(1 − σ(z))
    return _reduce(loss, reduction)


def discretized_gaussian_log_likelihood(x: Tensor, *, mean: Tensor, log_scale: Tensor, num_bins: int = 256) -> Tensor:
    """D4 decoder ``log p(x_0|x_1)`` of 8-bit data scaled to ``[−1, 1]``, element-wise → ``x.shape``.

    Ho et al. 2020 (arXiv:2006.11239) Eq. (13): the Gaussian ``N(mean, exp(log_scale)²)`` integrated
    over the bin ``[x − δ, x + δ]``, ``δ = 1/(num_bins − 1)``, with the first and last bins extended to
    ``∓∞`` so that the ``num_bins`` probabilities sum to one. ``x`` must lie on the bin centres
    ``2k/(num_bins − 1) − 1``. Tails are computed with ``log Φ`` for accuracy.
    """
    half_bin = 1.0 / (num_bins - 1)
    inv_std = torch.exp(-log_scale)
    upper = inv_std * (x - mean + half_bin)  # standardized bin edges
    lower = inv_std * (x - mean - half_bin)
    log_cdf_upper = torch.special.log_ndtr(upper)  # log P(X ≤ upper), first bin
    log_sf_lower = torch.special.log_ndtr(-lower)  # log P(X ≥ lower), last bin
    # Φ(u) − Φ(l), computed on the side of 0 where it is not a difference of numbers near 1
    mass = torch.where(
        lower > 0,
        torch.special.ndtr(-lower) - torch.special.ndtr(-upper),
        torch.special.ndtr(upper) - torch.special.ndtr(lower),
    )
    log_mass = torch.log(mass.clamp(min=1e-12))
    edge = 1.0 - half_bin  # halfway between the last two bin centres
    return torch.where(x < -edge, log_cdf_upper, torch.where(x > edge, log_sf_lower, log_mass))
