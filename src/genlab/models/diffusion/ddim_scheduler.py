"""DDIM scheduler: few-step sampling of a model trained as a DDPM (D2 with a non-Markovian process).

Song, Meng & Ermon, "Denoising Diffusion Implicit Models", 2020, arXiv:2010.02502.
Timesteps are 0-based (see ``noise_schedule`` for the notation table); ``ᾱ`` here is the ``α`` of
the DDIM paper (which writes ``α_t`` for the cumulative product).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genlab.models.diffusion.ddpm_scheduler import SchedulerOutput
from genlab.models.diffusion.noise_schedule import NoiseSchedule, randn_like


class DDIMScheduler(NoiseSchedule):
    """DDIM sampling on the training schedule of a DDPM; ``eta`` = 0 deterministic, 1 = DDPM-like.

    Song et al. 2020, arXiv:2010.02502, Eq. (12) and (16). Build it from the training ``ScheduleConfig``
    (or its fields as keywords) or from a trained model's scheduler: ``DDIMScheduler.from_scheduler(ddpm)``.
    Call ``set_timesteps(n)`` (``n ≪ T``, default spacing ``"trailing"``; see ``spaced_timesteps``) and
    loop over ``self.timesteps``. A network output with twice the data channels (learned variance)
    is accepted: the variance half is ignored.
    """

    def variance(self, t: int | Tensor, *, eta: float) -> float:
        """DDIM Eq. (16): ``σ_t² = η² (1 − ᾱ_{t'})/(1 − ᾱ_t) · (1 − ᾱ_t/ᾱ_{t'})``, ``t'`` the next timestep.

        At ``η = 1`` and ``n == T`` this is the DDPM posterior variance ``β̃_t``.
        """
        t = int(t)
        alpha_bar_t, alpha_bar_prev = (
            self.alpha_cumprod_at(t),
            self.alpha_cumprod_at(self.previous_timestep(t)),
        )
        return eta**2 * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t) * (1.0 - alpha_bar_t / alpha_bar_prev)

    def step(
        self,
        model_output: Tensor,
        t: int | Tensor,
        x_t: Tensor,
        *,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> SchedulerOutput:
        """One DDIM step from timestep ``t`` to the next one ``t'`` of ``self.timesteps`` (Eq. (12)).

        ``x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ_t²) ε̂ + σ_t z``.
        """
        # 1. the next timestep t' and ᾱ_t, ᾱ_{t'} (ᾱ = 1 after the last step)
        t = int(t)
        prev_t = self.previous_timestep(t)
        alpha_bar_prev = self.alpha_cumprod_at(prev_t)
        if model_output.shape[1] == 2 * x_t.shape[1]:  # learned variance: keep the prediction half
            model_output = model_output[:, : x_t.shape[1]]
        # 2. "predicted x_0", Eq. (12) first term (Eq. (9)); clip, then (clipped_epsilon) make ε̂ consistent with it
        x0 = self.predict_x0(model_output, x_t, t)
        if self.clip_sample:
            x0 = self.clip(x0)
        if self.clip_sample and self.clipped_epsilon:
            eps = self.epsilon_from_x0(x0, x_t, t)
        else:
            eps = self.predict_epsilon(model_output, x_t, t)
        # 3. σ_t(η), Eq. (16)
        variance = self.variance(t, eta=eta)
        # 4. "direction pointing to x_t", Eq. (12) second term
        direction = math.sqrt(max(1.0 - alpha_bar_prev - variance, 0.0)) * eps
        # 5. x_{t'} = √ᾱ_{t'} x̂_0 + direction + σ_t z, Eq. (12)
        prev_sample = math.sqrt(alpha_bar_prev) * x0 + direction
        if variance > 0.0:
            prev_sample = prev_sample + math.sqrt(variance) * randn_like(x_t, generator)
        return SchedulerOutput(prev_sample, x0)
