"""Diagonal-Gaussian terms shared by the latent-variable models (V3, V4, V5).

Kingma & Welling, "Auto-Encoding Variational Bayes", 2013, arXiv:1312.6114.
All functions take ``logvar = log σ²`` and sum over every axis after the batch axis.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def _sum_event(t: Tensor) -> Tensor:
    return t.flatten(1).sum(1) if t.dim() > 1 else t


def standard_normal(shape: tuple[int, ...] | torch.Size, *, like: Tensor,
                    generator: torch.Generator | None = None) -> Tensor:
    """``ε ~ N(0, I)`` of ``shape`` in the dtype and on the device of ``like`` (e.g. a model parameter).

    The draw happens on ``generator``'s device (then moves to ``like``'s), so a CPU ``torch.Generator``
    seeds the same numbers for a model on any device; without a generator it happens on ``like``'s device.
    """
    where = like.device if generator is None else generator.device
    return torch.randn(shape, generator=generator, dtype=like.dtype, device=where).to(like.device)


def reparameterize(mu: Tensor, logvar: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """V4: ``z = μ + σ ⊙ ε``, ``ε ~ N(0, I)``, differentiable in ``μ`` and ``σ``."""
    eps = standard_normal(mu.shape, like=mu, generator=generator)
    return mu + torch.exp(0.5 * logvar) * eps


def log_normal(x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """``log N(x; μ, diag σ²)`` summed over the event axes → ``(B,)``."""
    return _sum_event(-0.5 * (LOG_2PI + logvar + (x - mu) ** 2 * torch.exp(-logvar)))


def log_standard_normal(x: Tensor) -> Tensor:
    """``log N(x; 0, I)`` summed over the event axes → ``(B,)``."""
    return _sum_event(-0.5 * (LOG_2PI + x**2))


def kl_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """V3: ``KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_k (σ_k² + μ_k² − 1 − log σ_k²)`` → ``(B,)``."""
    return _sum_event(0.5 * (torch.exp(logvar) + mu**2 - 1.0 - logvar))


def kl_normal(mu1: Tensor, logvar1: Tensor, mu2: Tensor, logvar2: Tensor) -> Tensor:
    """V3 (general, diagonal): ``KL(N(μ1, σ1²) ‖ N(μ2, σ2²))`` summed over event axes → ``(B,)``.

    ``½[log(σ2²/σ1²) − 1 + σ1²/σ2² + (μ2−μ1)²/σ2²]`` per coordinate.
    """
    return _sum_event(0.5 * (logvar2 - logvar1 - 1.0 + torch.exp(logvar1 - logvar2)
                             + (mu2 - mu1) ** 2 * torch.exp(-logvar2)))


def log_normal_mixture(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """``log (1/K) Σ_k N(z; μ_k, diag σ_k²)`` for ``z (N, d)`` and components ``μ, log σ² (K, d)`` → ``(N,)``.

    The quadratic form is expanded into matrix products (``Σ_d z²/σ² − 2 z μ/σ² + μ²/σ²``), so the
    memory is ``N × K``, not ``N × K × d`` (importance sampling evaluates ~10⁵ points at a time).
    """
    prec = torch.exp(-logvar)  # (K, d)
    quad = (z**2) @ prec.T - 2 * z @ (mu * prec).T + (mu**2 * prec).sum(1)  # (N, K)
    log_det = logvar.sum(1) + z.shape[1] * LOG_2PI  # (K,)
    log_comp = -0.5 * (quad.clamp(min=0) + log_det)  # (N, K)
    return torch.logsumexp(log_comp, dim=1) - math.log(mu.shape[0])
