"""Beta schedules (D1) and inference timestep spacings, as pure functions.

Every function returns a new ``float64`` / ``int64`` tensor on the CPU; the schedulers keep the
tables in ``float64`` and cast them to the dtype of the data when they index them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genlab.errors import ConfigError

TIMESTEP_SPACINGS = ("leading", "trailing", "linspace")


def linear_beta_schedule(num_timesteps: int, *, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """D1: ``β_t`` linear from ``beta_start`` to ``beta_end`` over ``T`` steps → ``(T,)`` float64.

    Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", 2020, arXiv:2006.11239, §4
    (``β_1 = 1e−4`` to ``β_T = 0.02``, ``T = 1000``). The endpoints are used as given for any ``T``
    (no ``1000/T`` rescaling), so a small ``T`` gives a process that does not reach ``N(0, I)``.
    """
    _check_positive_int(num_timesteps, "num_timesteps")
    if not 0.0 < beta_start <= beta_end < 1.0:
        raise ConfigError(
            f"need 0 < beta_start <= beta_end < 1, got beta_start={beta_start}, "
            f"beta_end={beta_end}: the defaults of Ho et al. are 1e-4 and 0.02"
        )
    return torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)


def cosine_beta_schedule(num_timesteps: int, *, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """D1: the cosine schedule → ``(T,)`` float64 betas.

    Nichol & Dhariwal, "Improved Denoising Diffusion Probabilistic Models", 2021, arXiv:2102.09672,
    Eq. (17): ``ᾱ_t = f(t)/f(0)``, ``f(t) = cos²(((t/T) + s)/(1 + s) · π/2)``, and
    ``β_t = min(1 − ᾱ_t/ᾱ_{t−1}, 0.999)`` so that the last steps stay finite.
    """
    _check_positive_int(num_timesteps, "num_timesteps")
    steps = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps  # (T+1,) t/T
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    alphas_cumprod = f / f[0]
    betas = 1.0 - alphas_cumprod[1:] / alphas_cumprod[:-1]
    return betas.clamp(max=max_beta)


BETA_SCHEDULES = {"linear": linear_beta_schedule, "cosine": cosine_beta_schedule}


def make_betas(beta_schedule: str, num_timesteps: int, *, beta_start: float, beta_end: float) -> Tensor:
    """The betas of a named schedule (``"linear"`` or ``"cosine"``) → ``(T,)`` float64."""
    if beta_schedule == "linear":
        return linear_beta_schedule(num_timesteps, beta_start=beta_start, beta_end=beta_end)
    if beta_schedule == "cosine":
        return cosine_beta_schedule(num_timesteps)
    raise ConfigError(f"unknown beta_schedule {beta_schedule!r}: use one of {sorted(BETA_SCHEDULES)}")


def spaced_timesteps(num_train_timesteps: int, num_steps: int, *, spacing: str = "trailing") -> Tensor:
    """``num_steps`` training timesteps (0-based, descending) visited by a sampler → ``(n,)`` int64.

    - ``"leading"``: ``0, k, 2k, …`` with ``k = T // n`` (Song et al., DDIM, arXiv:2010.02502, code);
      never visits ``T − 1``, so the first step starts below the last training noise level.
    - ``"trailing"``: ``round(T − i·T/n) − 1`` for ``i = 0…n−1``: always starts at ``T − 1``
      (Lin et al., "Common Diffusion Noise Schedules and Sample Steps are Flawed", arXiv:2305.08891).
    - ``"linspace"``: ``round(linspace(0, T − 1, n))``, both ends included (the evenly spaced
      respacing of Nichol & Dhariwal 2021, arXiv:2102.09672, §4).
    With ``n == T`` every spacing gives ``T − 1, …, 1, 0``.
    """
    _check_positive_int(num_steps, "num_steps")
    if num_steps > num_train_timesteps:
        raise ConfigError(
            f"cannot sample with {num_steps} steps: the model was trained with "
            f"{num_train_timesteps} timesteps; pass steps <= {num_train_timesteps}"
        )
    T, n = num_train_timesteps, num_steps
    if spacing == "leading":
        ts = torch.arange(n, dtype=torch.int64) * (T // n)
    elif spacing == "trailing":
        ts = torch.tensor([round(T - i * T / n) - 1 for i in range(n)], dtype=torch.int64)
    elif spacing == "linspace":
        ts = torch.linspace(0, T - 1, n, dtype=torch.float64).round().long()
    else:
        raise ConfigError(f"unknown timestep spacing {spacing!r}: use one of {list(TIMESTEP_SPACINGS)}")
    return ts.unique().flip(0)  # descending, no repeats


def _check_positive_int(n: int, name: str) -> None:
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"{name} must be a positive integer, got {n!r}")
