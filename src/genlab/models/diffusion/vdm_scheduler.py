"""The reverse process of a variational diffusion model (D5), discretized for sampling.

Kingma, Salimans, Poole & Ho, "Variational Diffusion Models", 2021, arXiv:2107.00630, §3.3, with the
``η`` of DDIM (Song, Meng & Ermon 2020, arXiv:2010.02502, Eq. (16)). ``σ_t² = sigmoid(γ(t))``,
``α_t² = sigmoid(−γ(t))``. The scheduler has the interface of the discrete ones (``timesteps``, ``step``),
so ``sample_loop`` runs it: its timesteps are the step indices ``i = n, …, 1`` going from ``t = i/n``
to ``s = (i − 1)/n``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.models.diffusion.ddpm_scheduler import SchedulerOutput
from genlab.models.diffusion.noise_schedule import randn_like


class VDMScheduler:
    """D5: ``z_t → z_s`` on ``n`` uniform steps of ``[0, 1]`` for a noise schedule ``gamma`` ((B,) → (B,))."""

    def __init__(self, gamma: Callable[[Tensor], Tensor], num_steps: int) -> None:
        self.gamma = gamma
        self._memo: tuple[tuple, Tensor] | None = None
        self.set_timesteps(num_steps)

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Sample on ``n`` steps: ``self.timesteps`` = ``n, n − 1, …, 1`` (int64, descending)."""
        if num_inference_steps < 1:
            raise ConfigError(f"steps must be ≥ 1, got {num_inference_steps}")
        self.num_inference_steps = num_inference_steps
        self.timesteps = torch.arange(num_inference_steps, 0, -1)  # (n,)

    def gammas(self, i: int, like: Tensor) -> Tensor:
        """``(γ_t, γ_s)`` (2,) at ``t = i/n``, ``s = (i − 1)/n`` in ``like``'s dtype and device.

        The last pair is kept, so the network's time input and ``step`` see the same values.
        """
        key = (int(i), like.dtype, like.device)
        if self._memo is None or self._memo[0] != key:
            n = self.num_inference_steps
            self._memo = (key, self.gamma(torch.tensor([i / n, (i - 1) / n], dtype=like.dtype, device=like.device)))
        return self._memo[1]

    def step(
        self,
        eps_hat: Tensor,
        i: int | Tensor,
        z_t: Tensor,
        *,
        eta: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> SchedulerOutput:
        """``z_s = α_s x̂ + √(σ_s² − σ²) ε̂ + σ z``, ``σ² = η² σ_s² c``, ``c = 1 − SNR(t)/SNR(s)``.

        With ``η = 1`` this is the ancestral step of Kingma et al. §3.3 (``q(z_s|z_t, x̂)``, mean
        ``(α_s/α_t)(z_t − c σ_t ε̂)``, variance ``σ_s² c``); ``η = 0`` is deterministic (DDIM).
        """
        # 1. the schedule at t and s
        gamma_t, gamma_s = self.gammas(int(i), z_t).unbind()
        alpha_t, sigma_t = torch.sigmoid(-gamma_t).sqrt(), torch.sigmoid(gamma_t).sqrt()
        alpha_s, sigma2_s = torch.sigmoid(-gamma_s).sqrt(), torch.sigmoid(gamma_s)
        # 2. x̂ = (z_t − σ_t ε̂)/α_t
        x_hat = (z_t - sigma_t * eps_hat) / alpha_t
        # 3. c = 1 − SNR(t)/SNR(s) = −expm1(γ_s − γ_t); posterior variance σ_s² c
        c = -torch.expm1(gamma_s - gamma_t)
        variance = eta**2 * sigma2_s * c
        # 4. z_s = α_s x̂ + √(σ_s² − σ²) ε̂ + σ z
        z_s = alpha_s * x_hat + torch.sqrt((sigma2_s - variance).clamp(min=0.0)) * eps_hat
        if eta > 0.0:
            z_s = z_s + torch.sqrt(variance) * randn_like(z_t, generator)
        return SchedulerOutput(z_s, x_hat)
