"""G4 as executable facts, on densities tabulated on a grid (Goodfellow et al. 2014, arXiv:1406.2661, §4).

For a fixed generator, the best discriminator is ``D*(x) = p_data(x) / (p_data(x) + p_g(x))`` (Prop. 1),
and the value there is ``C(G) = V(D*, G) = −log 4 + 2·JSD(p_data ‖ p_g)`` (Thm. 1), minimal (``−log 4``,
``D* = ½``) exactly when ``p_g = p_data``. Integrals are sums over a uniform grid of step ``dx``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    """``D*(x) = p_data / (p_data + p_g)`` pointwise (G4, Proposition 1)."""
    return p_data / (p_data + p_g)


def value_of(d: Tensor, p_data: Tensor, p_g: Tensor, dx: float) -> Tensor:
    """G1 by quadrature: ``V(D, G) = ∫ p_data log D + ∫ p_g log(1 − D)``."""
    return (p_data * torch.log(d) + p_g * torch.log1p(-d)).sum() * dx


def jensen_shannon(p: Tensor, q: Tensor, dx: float) -> Tensor:
    """``JSD(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m)``, ``m = (p + q) / 2``, by quadrature (nats)."""
    m = (p + q) / 2
    return 0.5 * ((p * torch.log(p / m)).sum() + (q * torch.log(q / m)).sum()) * dx


LOG_4 = math.log(4.0)
