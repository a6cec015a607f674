"""Noise schedules ``γ(t)`` of the variational diffusion model (D5), ``t ∈ [0, 1]``.

Kingma, Salimans, Poole & Ho, "Variational Diffusion Models", 2021, arXiv:2107.00630, §3.2 and
App. H: ``σ_t² = sigmoid(γ(t))``, ``α_t² = sigmoid(−γ(t))`` (variance preserving) and
``SNR(t) = α_t²/σ_t² = exp(−γ(t))``, with ``γ`` strictly increasing so the SNR decreases in time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MonotoneLinear(nn.Linear):
    """A linear layer with non-negative weights ``|W|``: non-decreasing in every input (VDM App. H)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight.abs(), self.bias)


class LearnedNoiseSchedule(nn.Module):
    """D5: ``γ_η(t) = γ_0 + (γ_1 − γ_0) (γ̃(t) − γ̃(0))/(γ̃(1) − γ̃(0))``, learned, monotone.

    Kingma et al. 2021 (arXiv:2107.00630), §3.2 / §5.3: ``γ̃`` is the monotone MLP
    ``l1(t) + l3(φ(l2(t)))/H`` with positive weights and the increasing ``φ(h) = 2 sigmoid(h) − 1``, so
    ``γ`` increases in ``t`` for any parameters. The endpoints ``γ_0 = γ(0)`` and ``γ_1 = γ(1)`` are
    learned parameters (``γ_1 = γ_0 + softplus(·)`` keeps ``γ_1 > γ_0``); at initialization
    (``l3 = 0``) the schedule is linear from ``gamma_min`` to ``gamma_max``.
    """

    def __init__(self, *, gamma_min: float = -13.3, gamma_max: float = 5.0, hidden: int = 1024) -> None:
        super().__init__()
        self.gamma_0 = nn.Parameter(torch.tensor(float(gamma_min)))
        span = gamma_max - gamma_min
        self.gamma_span_raw = nn.Parameter(torch.tensor(span + math.log(-math.expm1(-span))))  # softplus⁻¹
        self.hidden = hidden
        self.l1 = MonotoneLinear(1, 1)
        self.l2 = MonotoneLinear(1, hidden)
        self.l3 = MonotoneLinear(hidden, 1, bias=False)
        with torch.no_grad():
            self.l1.weight.fill_(1.0)
            self.l1.bias.zero_()
            nn.init.normal_(self.l2.weight)
            self.l2.bias.zero_()
            self.l3.weight.zero_()

    @property
    def gamma_1(self) -> Tensor:
        return self.gamma_0 + F.softplus(self.gamma_span_raw)

    def _gamma_tilde_and_slope(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """The unnormalized monotone network ``γ̃(t)`` and its derivative ``γ̃'(t)``, (B,) → (B,), (B,)."""
        w1, w2, w3 = (
            self.l1.weight.abs()[0, 0],
            self.l2.weight.abs()[:, 0],
            self.l3.weight.abs()[0],
        )  # (), (H,), (H,)
        s = torch.sigmoid((2.0 * t - 1.0)[:, None] * w2 + self.l2.bias)  # (B, H)
        gamma_tilde = w1 * t + self.l1.bias[0] + (2.0 * s - 1.0) @ w3 / self.hidden
        slope = w1 + (2.0 * s * (1.0 - s) * 2.0 * w2) @ w3 / self.hidden  # chain rule through 2t − 1
        return gamma_tilde, slope

    def gamma_tilde(self, t: Tensor) -> Tensor:
        """The unnormalized monotone network ``γ̃(t) = l1(t) + l3(φ(l2(2t − 1)))/H`` (B,) → (B,)."""
        t = t[:, None]  # (B, 1)
        h = self.l1(t) + self.l3(2.0 * torch.sigmoid(self.l2(2.0 * t - 1.0)) - 1.0) / self.hidden  # (B, 1)
        return h[:, 0]

    def gamma_and_slope(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """``γ(t)`` and ``γ'(t) = (γ_1 − γ_0) γ̃'(t)/(γ̃(1) − γ̃(0))`` in closed form (B,) → (B,), (B,).

        Closed form rather than autograd, so that it also works under ``torch.inference_mode``;
        a test checks it against autograd.
        """
        ends = self.gamma_tilde(torch.tensor([0.0, 1.0], dtype=t.dtype, device=t.device))  # γ̃(0), γ̃(1)
        span = (ends[1] - ends[0]).clamp(min=1e-12)
        gamma_tilde, slope = self._gamma_tilde_and_slope(t)
        scale = (self.gamma_1 - self.gamma_0) / span
        return self.gamma_0 + scale * (gamma_tilde - ends[0]), scale * slope

    def forward(self, t: Tensor) -> Tensor:
        ends = self.gamma_tilde(torch.tensor([0.0, 1.0], dtype=t.dtype, device=t.device))  # γ̃(0), γ̃(1)
        frac = (self.gamma_tilde(t) - ends[0]) / (ends[1] - ends[0]).clamp(min=1e-12)  # (B,) in [0, 1]
        return self.gamma_0 + (self.gamma_1 - self.gamma_0) * frac


class FixedLinearSchedule(nn.Module):
    """D5 baseline: ``γ(t) = γ_min + (γ_max − γ_min) t``, not learned (Kingma et al. 2021, §6.2)."""

    def __init__(self, *, gamma_min: float = -13.3, gamma_max: float = 5.0) -> None:
        super().__init__()
        self.gamma_min, self.gamma_max = gamma_min, gamma_max

    @property
    def gamma_0(self) -> float:
        return self.gamma_min

    @property
    def gamma_1(self) -> float:
        return self.gamma_max

    def gamma_and_slope(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """``γ(t)`` and the constant ``γ'(t) = γ_max − γ_min`` (B,) → (B,), (B,)."""
        return self(t), torch.full_like(t, self.gamma_max - self.gamma_min)

    def forward(self, t: Tensor) -> Tensor:
        return self.gamma_min + (self.gamma_max - self.gamma_min) * t
