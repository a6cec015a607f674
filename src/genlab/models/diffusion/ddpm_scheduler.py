"""DDPM scheduler: the true posterior (D3) and ancestral sampling (D2, Algorithm 2).

Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", 2020, arXiv:2006.11239.
Timesteps are 0-based (see ``noise_schedule`` for the notation table).
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor

from genlab.errors import ConfigError, ShapeError
from genlab.models.diffusion.noise_schedule import NoiseSchedule, ScheduleConfig, extract, randn_like

VARIANCE_TYPES = ("fixed_small", "fixed_large", "learned_range")


class SchedulerOutput(NamedTuple):
    """One reverse step: ``x_{t−1}`` and the ``x̂_0`` it was computed from."""

    prev_sample: Tensor  # (B, ...) x_{t-1}
    pred_original_sample: Tensor  # (B, ...) x̂_0


class GaussianParams(NamedTuple):
    """A diagonal Gaussian: ``mean`` (B, ...), ``variance`` and ``log_variance`` (broadcastable)."""

    mean: Tensor
    variance: Tensor
    log_variance: Tensor


class DDPMScheduler(NoiseSchedule):
    """D1–D3: the DDPM noise process, its posterior and ancestral sampling; holds no parameters.

    Ho et al. 2020, arXiv:2006.11239. ``variance_type`` is the variance of ``p_θ(x_{t−1}|x_t)``:
    ``"fixed_small"`` ``β̃_t`` (the posterior variance), ``"fixed_large"`` ``β_t`` (both §3.2), or
    ``"learned_range"``: the network outputs twice the channels, the second half ``v ∈ [−1, 1]``
    interpolating ``log σ² = ((v+1)/2) log β_t + (1 − (v+1)/2) log β̃_t`` (Nichol & Dhariwal 2021,
    arXiv:2102.09672, Eq. (15)).

    ``set_timesteps(n)`` with ``n < T`` *respaces* the process (Nichol & Dhariwal §4): on the chosen
    timesteps ``S`` it uses ``β'_i = 1 − ᾱ_{S_i}/ᾱ_{S_{i−1}}`` and the posterior of that shorter
    chain, so ``n == T`` is exactly the original sampler.
    """

    def __init__(
        self,
        config: ScheduleConfig | None = None,
        /,
        *,
        variance_type: Literal["fixed_small", "fixed_large", "learned_range"] = "fixed_small",
        **overrides: Any,
    ) -> None:
        super().__init__(config, **overrides)
        if variance_type not in VARIANCE_TYPES:
            raise ConfigError(f"unknown variance_type {variance_type!r}: use one of {list(VARIANCE_TYPES)}")
        self.variance_type = variance_type

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r}, variance_type={self.variance_type!r})"

    # ---- D3: the posterior q(x_{t-1} | x_t, x_0) ------------------------------------------------
    def q_posterior(self, x0: Tensor, x_t: Tensor, t: Tensor | int) -> GaussianParams:
        """D3, Eq. (6)–(7) of Ho et al.: ``q(x_{t−1}|x_t, x_0) = N(μ̃_t, β̃_t I)``.

        ``μ̃_t = √ᾱ_{t−1} β_t/(1 − ᾱ_t) x_0 + √α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) x_t``,
        ``β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) β_t``; ``log_variance`` is clipped at the first step.
        """
        mean = (
            extract(self.posterior_mean_coef1, t, x_t) * x0 + extract(self.posterior_mean_coef2, t, x_t) * x_t
        )
        return GaussianParams(
            mean,
            extract(self.posterior_variance, t, x_t).expand_as(x_t),
            extract(self.posterior_log_variance_clipped, t, x_t).expand_as(x_t),
        )

    # ---- D2/D3: the reverse model p_θ(x_{t-1} | x_t) ---------------------------------------------
    def split_model_output(self, model_output: Tensor, x_t: Tensor) -> tuple[Tensor, Tensor | None]:
        """Split the network output into the prediction and (for ``learned_range``) ``v``."""
        if self.variance_type == "learned_range":
            if model_output.shape[1] != 2 * x_t.shape[1]:
                raise ShapeError(
                    f"variance_type='learned_range' needs a network output with "
                    f"{2 * x_t.shape[1]} channels (prediction, variance), got "
                    f"{tuple(model_output.shape)}: build the network with twice the channels"
                )
            pred, v = model_output.chunk(2, dim=1)
            return pred, v
        return model_output, None

    def p_mean_variance(
        self, model_output: Tensor, x_t: Tensor, t: Tensor | int, *, clip: bool = False
    ) -> tuple[GaussianParams, Tensor]:
        """D3: ``p_θ(x_{t−1}|x_t) = N(μ_θ, σ_t²)`` on the training timesteps → (params, ``x̂_0``).

        ``μ_θ = μ̃_t(x̂_0, x_t)`` with ``x̂_0`` from the network output; for ``ε``-prediction this is
        ``μ_θ = (x_t − β_t/√(1 − ᾱ_t) ε_θ)/√α_t`` (Ho et al. Eq. (11)).
        """
        pred, v = self.split_model_output(model_output, x_t)
        x0 = self.predict_x0(pred, x_t, t)
        if clip:
            x0 = self.clip(x0)
        mean = self.q_posterior(x0, x_t, t).mean
        if self.variance_type == "fixed_small":
            log_variance = extract(self.posterior_log_variance_clipped, t, x_t)
        elif self.variance_type == "fixed_large":  # β_t, with β̃_2 at the first step (Ho et al.'s code)
            large = torch.cat([self.posterior_variance[1:2], self.betas[1:]])
            log_variance = extract(large.log(), t, x_t)
        else:  # Eq. (15) of Nichol & Dhariwal 2021
            frac = (v + 1.0) / 2.0
            log_variance = frac * extract(self.betas.log(), t, x_t) + (1.0 - frac) * extract(
                self.posterior_log_variance_clipped, t, x_t
            )
        log_variance = log_variance.expand_as(x_t)
        return GaussianParams(mean, log_variance.exp(), log_variance), x0

    # ---- D2: ancestral sampling, one step -------------------------------------------------------
    def step(
        self, model_output: Tensor, t: int | Tensor, x_t: Tensor, *, generator: torch.Generator | None = None
    ) -> SchedulerOutput:
        """One step of Algorithm 2 of Ho et al.: sample ``x_{t'}`` from ``p_θ(x_{t'}|x_t)``.

        ``t'`` is the next timestep in ``self.timesteps`` (``t − 1`` when ``n == T``; ``−1`` means
        ``x_0``). ``t`` is one int for the whole batch.
        """
        # 1. the (possibly respaced) schedule between t and t' (Nichol & Dhariwal 2021, §4)
        t = int(t)
        prev_t = self.previous_timestep(t)
        alpha_bar_t, alpha_bar_prev = self.alpha_cumprod_at(t), self.alpha_cumprod_at(prev_t)
        beta_t = 1.0 - alpha_bar_t / alpha_bar_prev
        alpha_t = 1.0 - beta_t
        # 2. x̂_0 from the network output, Eq. (15) of Ho et al.
        pred, v = self.split_model_output(model_output, x_t)
        x0 = self.clip(self.predict_x0(pred, x_t, t))
        # 3. posterior mean μ̃_t(x̂_0, x_t), Eq. (7)
        coef1 = math.sqrt(alpha_bar_prev) * beta_t / (1.0 - alpha_bar_t)
        coef2 = math.sqrt(alpha_t) * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t)
        mean = coef1 * x0 + coef2 * x_t
        if prev_t < 0:  # Algorithm 2, line 4: no noise on the last step
            return SchedulerOutput(mean, x0)
        # 4. variance σ_t²: β̃_t, β_t (§3.2) or the learned interpolation (Nichol & Dhariwal Eq. (15))
        posterior_variance = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t) * beta_t
        if self.variance_type == "fixed_small":
            std = math.sqrt(posterior_variance)
        elif self.variance_type == "fixed_large":
            std = math.sqrt(beta_t)
        else:
            frac = (v + 1.0) / 2.0
            std = torch.exp(0.5 * (frac * math.log(beta_t) + (1.0 - frac) * math.log(posterior_variance)))
        # 5. x_{t-1} = μ + σ z, z ~ N(0, I), Algorithm 2 line 4
        return SchedulerOutput(mean + std * randn_like(x_t, generator), x0)
