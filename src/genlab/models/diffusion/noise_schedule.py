"""The forward process of a diffusion model (D1): schedule tables, ``q_sample``, prediction types.

Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", 2020, arXiv:2006.11239.

Notation (code ↔ paper). Timesteps are **0-based**: index ``t`` in code is step ``t + 1`` of the
paper, so ``alphas_cumprod[0] = ᾱ_1 = 1 − β_1`` and ``alphas_cumprod[T − 1] = ᾱ_T``.

| code | paper |
| --- | --- |
| ``betas[t]`` | ``β_{t+1}`` |
| ``alphas[t]`` | ``α_{t+1} = 1 − β_{t+1}`` |
| ``alphas_cumprod[t]`` | ``ᾱ_{t+1} = Π_{s ≤ t+1} α_s`` |
| ``alphas_cumprod_prev[t]`` | ``ᾱ_t`` (``ᾱ_0 = 1``) |
| ``posterior_variance[t]`` | ``β̃_{t+1} = (1 − ᾱ_t)/(1 − ᾱ_{t+1}) β_{t+1}`` (Eq. (7)) |
| ``posterior_mean_coef1/2[t]`` | the coefficients of ``x_0`` and ``x_t`` in ``μ̃`` (Eq. (7)) |
| ``x0``, ``x_t``, ``noise`` | ``x_0``, ``x_t``, ``ε`` |

The tables are ``float64`` CPU tensors; ``extract`` casts the gathered values to the data's dtype and
device, so the scheduler holds no parameters and never needs ``.to(device)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import torch
from torch import Tensor

from genlab.config import Config, require
from genlab.errors import GenlabError
from genlab.models.diffusion.schedules import make_betas, spaced_timesteps
from genlab.models.gaussian import standard_normal

PredictionType = Literal["epsilon", "sample", "v_prediction"]


def extract(table: Tensor, t: Tensor | int, x: Tensor) -> Tensor:
    """``table[t]`` cast to ``x``'s dtype/device and shaped to broadcast against ``x``: ``(B, 1, …)``.

    ``t`` is an int (one timestep for the whole batch) or a ``(B,)`` integer tensor.
    """
    if isinstance(t, int) or (isinstance(t, Tensor) and t.dim() == 0):
        return table[int(t)].to(dtype=x.dtype, device=x.device)
    values = table.to(dtype=x.dtype)[t.cpu().long()].to(x.device)  # (B,)
    return values.reshape(-1, *([1] * (x.dim() - 1)))


def randn_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """``N(0, I)`` noise with ``x``'s shape, dtype and device, drawn from ``generator``'s device."""
    return standard_normal(x.shape, like=x, generator=generator)


@dataclasses.dataclass
class ScheduleConfig(Config):
    """The training schedule of a discrete diffusion (D1) and how a sampler reads it: the one argument
    list of ``DDPMScheduler`` and ``DDIMScheduler``, validated once (``ScheduleConfig.of`` reads it from a
    model config with the same field names, e.g. ``DDPMConfig``)."""

    num_train_timesteps: int = 1000  # T
    beta_schedule: Literal["linear", "cosine"] = "linear"  # Ho et al. 2020 / Nichol & Dhariwal 2021
    beta_start: float = 1e-4  # β_1 (linear schedule)
    beta_end: float = 0.02  # β_T (linear schedule)
    prediction_type: PredictionType = "epsilon"  # what the network outputs: ε, x_0 or v
    timestep_spacing: Literal["leading", "trailing", "linspace"] = "trailing"  # which timesteps n < T visit
    clip_sample: bool = False  # clip x̂_0 to [−r, r] while sampling
    clip_sample_range: float = 1.0  # r
    #: DDIM with clip_sample: the direction term uses ε̂ recomputed from the clipped x̂_0 (True, consistent with it)
    #: or the network's own ε̂ (False: diffusers' DDIM default, use_clipped_model_output=False)
    clipped_epsilon: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            isinstance(self.num_train_timesteps, int) and self.num_train_timesteps >= 1,
            f"num_train_timesteps must be a positive integer, got {self.num_train_timesteps!r}",
        )

    @classmethod
    def of(cls, config: Any, **overrides: Any) -> ScheduleConfig:
        """The schedule fields of any config object (those with this class's field names), then ``overrides``."""
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{**{k: getattr(config, k) for k in names if hasattr(config, k)}, **overrides})


class NoiseSchedule:
    """D1: the fixed forward process ``q(x_t|x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)`` and its tables.

    Ho et al. 2020, arXiv:2006.11239, Eq. (2) and (4). Shared by ``DDPMScheduler`` and
    ``DDIMScheduler``: the buffers of D1, ``add_noise`` (= ``q_sample``), the conversions between the
    three things a network may predict (``ε``, ``x_0``, ``v``), and ``set_timesteps``. Built from a
    ``ScheduleConfig`` and/or its fields as keywords: ``DDIMScheduler(cfg, clip_sample=True)``.
    """

    def __init__(self, config: ScheduleConfig | None = None, /, **overrides: Any) -> None:
        config = config or ScheduleConfig()
        self.config = config.replace(**overrides) if overrides else config
        cfg = self.config
        T = self.num_train_timesteps = cfg.num_train_timesteps
        self.prediction_type = cfg.prediction_type
        self.timestep_spacing = cfg.timestep_spacing
        self.clip_sample = cfg.clip_sample
        self.clip_sample_range = cfg.clip_sample_range
        self.clipped_epsilon = cfg.clipped_epsilon

        # D1 tables, float64, (T,)
        self.betas = make_betas(cfg.beta_schedule, T, beta_start=cfg.beta_start, beta_end=cfg.beta_end)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        self.sqrt_alphas_cumprod = self.alphas_cumprod.sqrt()
        self.sqrt_one_minus_alphas_cumprod = (1.0 - self.alphas_cumprod).sqrt()
        self.log_one_minus_alphas_cumprod = torch.log1p(-self.alphas_cumprod)
        self.sqrt_recip_alphas_cumprod = self.alphas_cumprod.rsqrt()
        self.sqrt_recipm1_alphas_cumprod = (1.0 / self.alphas_cumprod - 1.0).sqrt()
        # D3 tables, Eq. (6)-(7) of Ho et al. 2020
        self.posterior_variance = self.betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        # β̃ at the first step is 0: clip its log to β̃ of the second step (as Ho et al.'s code does)
        self.posterior_log_variance_clipped = torch.log(
            torch.cat([self.posterior_variance[1:2], self.posterior_variance[1:]]) if T > 1 else self.betas
        )
        self.posterior_mean_coef1 = self.betas * self.alphas_cumprod_prev.sqrt() / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (
            (1.0 - self.alphas_cumprod_prev) * self.alphas.sqrt() / (1.0 - self.alphas_cumprod)
        )

        self.set_timesteps(T)

    @classmethod
    def from_config(cls, config: ScheduleConfig | dict, **overrides: Any) -> NoiseSchedule:
        """Build from a ``ScheduleConfig`` or a dict of its fields; other keys are ignored
        (``DDIMScheduler.from_config(ddpm.config)``, as in diffusers)."""
        if isinstance(config, dict):
            names = {f.name for f in dataclasses.fields(ScheduleConfig)}
            config = ScheduleConfig.from_dict({k: v for k, v in config.items() if k in names})
        return cls(config, **overrides)

    @classmethod
    def from_scheduler(cls, scheduler: NoiseSchedule, **overrides: Any) -> NoiseSchedule:
        """A scheduler of this class on the same training schedule as ``scheduler``."""
        return cls(scheduler.config, **overrides)

    # ---- D1: the closed form of the forward process -------------------------------------------
    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor | int) -> Tensor:
        """D1 closed form, Eq. (4) of Ho et al.: ``x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε`` → ``x0.shape``."""
        return (
            extract(self.sqrt_alphas_cumprod, t, x0) * x0
            + extract(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise
        )

    q_sample = add_noise

    def q_mean_variance(self, x0: Tensor, t: Tensor | int) -> tuple[Tensor, Tensor]:
        """D1: mean ``√ᾱ_t x_0`` and variance ``1 − ᾱ_t`` of ``q(x_t|x_0)`` (variance broadcastable)."""
        return extract(self.sqrt_alphas_cumprod, t, x0) * x0, extract(1.0 - self.alphas_cumprod, t, x0)

    # ---- what the network predicts --------------------------------------------------------------
    def get_velocity(self, x0: Tensor, noise: Tensor, t: Tensor | int) -> Tensor:
        """``v = √ᾱ_t ε − √(1 − ᾱ_t) x_0`` (Salimans & Ho, "Progressive Distillation", arXiv:2202.00512)."""
        return (
            extract(self.sqrt_alphas_cumprod, t, x0) * noise
            - extract(self.sqrt_one_minus_alphas_cumprod, t, x0) * x0
        )

    def training_target(self, x0: Tensor, noise: Tensor, t: Tensor | int) -> Tensor:
        """What the network is trained to output for ``prediction_type``: ``ε``, ``x_0`` or ``v``."""
        if self.prediction_type == "epsilon":
            return noise
        if self.prediction_type == "sample":
            return x0
        return self.get_velocity(x0, noise, t)

    def predict_x0(self, model_output: Tensor, x_t: Tensor, t: Tensor | int) -> Tensor:
        """``x̂_0`` from the network output (Ho et al. Eq. (15) for ``ε``; ``x_0 = √ᾱ x_t − √(1−ᾱ) v``)."""
        a, s = extract(self.sqrt_alphas_cumprod, t, x_t), extract(self.sqrt_one_minus_alphas_cumprod, t, x_t)
        if self.prediction_type == "epsilon":
            return (x_t - s * model_output) / a
        if self.prediction_type == "sample":
            return model_output
        return a * x_t - s * model_output

    def predict_epsilon(self, model_output: Tensor, x_t: Tensor, t: Tensor | int) -> Tensor:
        """``ε̂`` from the network output (``ε = (x_t − √ᾱ x_0)/√(1−ᾱ)``, ``ε = √(1−ᾱ) x_t + √ᾱ v``)."""
        a, s = extract(self.sqrt_alphas_cumprod, t, x_t), extract(self.sqrt_one_minus_alphas_cumprod, t, x_t)
        if self.prediction_type == "epsilon":
            return model_output
        if self.prediction_type == "sample":
            return (x_t - a * model_output) / s
        return s * x_t + a * model_output

    def epsilon_from_x0(self, x0: Tensor, x_t: Tensor, t: Tensor | int) -> Tensor:
        """``ε = (x_t − √ᾱ_t x_0)/√(1 − ᾱ_t)``: the noise consistent with ``x_t`` and ``x_0``."""
        return (x_t - extract(self.sqrt_alphas_cumprod, t, x_t) * x0) / extract(
            self.sqrt_one_minus_alphas_cumprod, t, x_t
        )

    def clip(self, x0: Tensor) -> Tensor:
        """Clip ``x̂_0`` to ``[−r, r]`` when ``clip_sample`` (Ho et al. clip to the data range [−1, 1])."""
        r = self.clip_sample_range
        return x0.clamp(-r, r) if self.clip_sample else x0

    # ---- which timesteps a sampler visits -------------------------------------------------------
    def set_timesteps(self, num_inference_steps: int, *, spacing: str | None = None) -> None:
        """Choose the ``n`` timesteps to visit (``self.timesteps``, descending); see ``spaced_timesteps``."""
        self.num_inference_steps = num_inference_steps
        self.timesteps = spaced_timesteps(
            self.num_train_timesteps, num_inference_steps, spacing=spacing or self.timestep_spacing
        )
        prev = self.timesteps.tolist()[1:] + [-1]
        self._prev_timestep = dict(zip(self.timesteps.tolist(), prev, strict=True))

    def previous_timestep(self, t: int | Tensor) -> int:
        """The timestep after ``t`` in ``self.timesteps`` (``−1`` after the last one)."""
        t = int(t)
        if t not in self._prev_timestep:
            raise GenlabError(
                f"timestep {t} is not among the {self.num_inference_steps} timesteps set: "
                f"loop over scheduler.timesteps after scheduler.set_timesteps(n)"
            )
        return self._prev_timestep[t]

    def alpha_cumprod_at(self, t: int) -> float:
        """``ᾱ`` at a 0-based timestep, with ``ᾱ = 1`` at ``t = −1`` (clean data)."""
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
