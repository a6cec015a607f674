"""The VampPrior's pseudo-inputs: ``p(z) = (1/K) Σ_k q(z|u_k)`` (Tomczak & Welling 2018, Eq. (9)).

The prior is the mixture of the model's own posterior at ``K`` learned pseudo-inputs ``u_k``, points
in data space trained with the rest of the model. The model supplies ``q(z|u)``; this module holds the
``u_k``, parametrized as ``hardtanh(w, 0, 1)`` (binary images live in [0, 1]) and initialized, as
in the paper, near 0.05 with a spread of 0.01.
Tomczak & Welling, "VAE with a VampPrior", AISTATS 2018, arXiv:1705.07120.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PseudoInputs(nn.Module):
    """``K`` learnable pseudo-inputs ``u_k ∈ [0, 1]^{data_shape}``; calling it returns them, ``(K, *data_shape)``."""

    def __init__(self, k: int, data_shape: tuple[int, ...], *, mean: float = 0.05, std: float = 0.01) -> None:
        super().__init__()
        self.w = nn.Parameter(mean + std * torch.randn(k, *data_shape))

    def forward(self) -> Tensor:
        return F.hardtanh(self.w, 0.0, 1.0)  # (K, *data_shape)
