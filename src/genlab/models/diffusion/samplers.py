"""The reverse-process samplers (D2) as objects: each knows its options, checks them once, and builds the
scheduler that runs its steps. ``SAMPLERS`` maps the names the CLI takes to the classes.

- ``DDPMSampler``: ancestral sampling, Ho et al. 2020 (arXiv:2006.11239), Algorithm 2; by default all
  ``T`` training timesteps, fewer respace the chain (Nichol & Dhariwal 2021, arXiv:2102.09672, §4).
- ``DDIMSampler``: Song et al. 2020 (arXiv:2010.02502), Eq. (12), with the noise ``η`` of Eq. (16)
  (0: deterministic, 1: the DDPM posterior variance); by default 50 steps.

Both are points of one family of steps, ``η = 1`` being the ancestral one: ``step_eta`` is what a
model with a single generalized step (the VDM) passes to it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from genlab.errors import ConfigError
from genlab.models.diffusion.ddim_scheduler import DDIMScheduler
from genlab.models.diffusion.ddpm_scheduler import DDPMScheduler
from genlab.models.diffusion.noise_schedule import NoiseSchedule, ScheduleConfig


@dataclasses.dataclass(frozen=True)
class Sampler:
    """A sampler's options: ``steps`` (``None``: the sampler's default) and DDIM's ``eta``."""

    steps: int | None = None
    eta: float | None = None

    name: ClassVar[str]
    summary: ClassVar[str]  # a few words for error messages
    #: steps when none are given; ``None``: every training timestep
    default_steps: ClassVar[int | None] = None

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"steps must be ≥ 1 (or None for the sampler's default), got {self.steps}")
        if self.eta is not None and self.eta < 0.0:
            raise ConfigError(f"eta must be ≥ 0 (0: deterministic DDIM, 1: DDPM-like noise), got {self.eta}")

    def num_steps(self, num_train_timesteps: int) -> int:
        """Steps to run on a schedule of ``T = num_train_timesteps``: ``steps``, else the default (at most ``T``)."""
        if self.steps is not None:
            return self.steps
        return min(self.default_steps or num_train_timesteps, num_train_timesteps)

    @property
    def step_eta(self) -> float:
        """``η`` of Song et al. Eq. (16) for this sampler's step (1: ancestral)."""
        raise NotImplementedError

    def scheduler(self, config: ScheduleConfig, *, variance_type: str = "fixed_small") -> NoiseSchedule:
        """The scheduler that runs this sampler's steps on the training schedule ``config``."""
        raise NotImplementedError

    def step_kwargs(self) -> dict[str, Any]:
        """The options this sampler passes to ``scheduler.step``."""
        return {}


@dataclasses.dataclass(frozen=True)
class DDPMSampler(Sampler):
    """Ancestral sampling from ``p_θ(x_{t−1}|x_t)`` (Ho et al. 2020, Algorithm 2); no ``eta``."""

    name: ClassVar[str] = "ddpm"
    summary: ClassVar[str] = "ancestral, T steps"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.eta not in (None, 0.0):  # 0.0: the old default of sample(eta=...), accepted
            raise ConfigError("eta is an option of the DDIM sampler: pass sampler='ddim' (--sampler ddim) "
                              "with it, or drop it (ancestral DDPM sampling has no eta)")

    @property
    def step_eta(self) -> float:
        return 1.0

    def scheduler(self, config: ScheduleConfig, *, variance_type: str = "fixed_small") -> DDPMScheduler:
        return DDPMScheduler(config, variance_type=variance_type)


@dataclasses.dataclass(frozen=True)
class DDIMSampler(Sampler):
    """DDIM (Song et al. 2020, Eq. (12)): ``eta`` 0 (default) deterministic, 1 DDPM-like; 50 steps by default."""

    name: ClassVar[str] = "ddim"
    summary: ClassVar[str] = "few steps"
    default_steps: ClassVar[int | None] = 50

    @property
    def step_eta(self) -> float:
        return 0.0 if self.eta is None else float(self.eta)

    def scheduler(self, config: ScheduleConfig, *, variance_type: str = "fixed_small") -> DDIMScheduler:
        return DDIMScheduler(config)  # a learned variance is ignored: σ_t comes from η

    def step_kwargs(self) -> dict[str, Any]:
        return {"eta": self.step_eta}


SAMPLERS: dict[str, type[Sampler]] = {"ddpm": DDPMSampler, "ddim": DDIMSampler}


def make_sampler(sampler: str | Sampler = "ddpm", *, steps: int | None = None, eta: float | None = None) -> Sampler:
    """The sampler named ``sampler`` in ``SAMPLERS`` with these options (or ``sampler`` itself, options
    replaced by those given); ``ConfigError`` for an unknown name or a bad option."""
    if isinstance(sampler, Sampler):
        given = {k: v for k, v in (("steps", steps), ("eta", eta)) if v is not None}
        return dataclasses.replace(sampler, **given) if given else sampler
    cls = SAMPLERS.get(sampler)
    if cls is None:
        known = " or ".join(f"{name!r} ({c.summary})" for name, c in SAMPLERS.items())
        raise ConfigError(f"unknown sampler {sampler!r}: use {known}")
    return cls(steps=steps, eta=eta)
