"""Input corruptions of the denoising autoencoder (AE3).

Vincent et al., "Extracting and Composing Robust Features with Denoising Autoencoders", ICML 2008
(masking noise); Vincent et al., "Stacked Denoising Autoencoders", JMLR 2010 (Gaussian noise).
"""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.models.gaussian import standard_normal


def gaussian_noise(x: Tensor, std: float, *, generator: torch.Generator | None = None) -> Tensor:
    """AE3: ``x̃ = x + z``, ``z ~ N(0, σ² I)`` (same shape as ``x``)."""
    return x + std * standard_normal(x.shape, like=x, generator=generator)


def masking_noise(x: Tensor, p: float, *, generator: torch.Generator | None = None) -> Tensor:
    """AE3 (masking): ``x̃ = x ⊙ m``, ``m_i ~ Bernoulli(1 − p)``: each value is zeroed with
    probability ``p``."""
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) >= p
    return x * keep
