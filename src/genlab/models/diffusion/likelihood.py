"""Likelihood pieces of the diffusion bound (D4): the discretized Gaussian decoder and bits/dim."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def discretized_gaussian_log_likelihood(
    x: Tensor, *, mean: Tensor, log_scale: Tensor, num_bins: int = 256
) -> Tensor:
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


def bits_per_dim(nats: Tensor, num_dims: int) -> Tensor:
    """Convert a negative log-likelihood in nats per example to bits per dimension: ``nats/(D ln 2)``."""
    return nats / (num_dims * math.log(2.0))
