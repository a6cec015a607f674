"""2-D toy distributions, drawn from seeded generators: ring8, grid25, moons, swissroll, checkerboard.

The training set (``train-full`` = ``train`` + ``val``) and the test set are drawn from independent
streams (seeds ``mix_seed(seed, 0)`` and ``mix_seed(seed, 1)``); ``val`` is carved from the
training draw by ``split_indices``. Mixtures of Gaussians also return their ``modes`` and ``std``
(in ``meta``, read as ``data.modes`` / ``data.std``, for mode-coverage metrics) and the mode index
of each point as ``y``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from genlab.data.seeding import mix_seed
from genlab.data.splits import select_split
from genlab.data.tensors import TensorData

Sampler = Callable[[int, torch.Generator], tuple[Tensor, Tensor | None]]


def ring_modes(k: int = 8, radius: float = 2.0) -> Tensor:
    """``k`` centres evenly spaced on a circle: ``(k, 2)``."""
    angle = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    return (radius * torch.stack([angle.cos(), angle.sin()], dim=1)).float()


def grid_modes(side: int = 5, spacing: float = 2.0) -> Tensor:
    """``side × side`` centres on a grid centred at 0 (5, 2.0 → -4, -2, 0, 2, 4): ``(side², 2)``."""
    ticks = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], dim=1)


def mixture_sampler(modes: Tensor, std: float) -> Sampler:
    """Sample an equal-weight mixture of isotropic Gaussians ``N(modes[k], std² I)``; y = k."""

    def sample(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
        y = torch.randint(len(modes), (n,), generator=g)  # (n,)
        x = modes[y] + std * torch.randn(n, 2, generator=g)  # (n, 2)
        return x, y

    return sample


def moons_sampler(noise: float = 0.05) -> Sampler:
    """Two interleaved half circles (as sklearn's make_moons, angles drawn uniformly), centred and
    scaled by 2, plus Gaussian noise of std ``2 * noise``; y = which moon."""

    def sample(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
        y = torch.randint(2, (n,), generator=g)  # (n,)
        t = math.pi * torch.rand(n, generator=g)
        upper = torch.stack([t.cos(), t.sin()], dim=1)  # (n, 2)
        lower = torch.stack([1 - t.cos(), 0.5 - t.sin()], dim=1)
        x = torch.where(y[:, None] == 0, upper, lower) + noise * torch.randn(n, 2, generator=g)
        return 2 * (x - torch.tensor([0.5, 0.25])), y

    return sample


def swissroll_sampler(noise: float = 0.1) -> Sampler:
    """A 2-D spiral ``t (cos t, sin t) / 5``, ``t = 1.5π (1 + 2u)``, ``u ~ U(0, 1)``, plus noise."""

    def sample(n: int, g: torch.Generator) -> tuple[Tensor, None]:
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g))  # (n,)
        x = torch.stack([t * t.cos(), t * t.sin()], dim=1) / 5
        return x + noise * torch.randn(n, 2, generator=g), None

    return sample


def checkerboard_sampler() -> Sampler:
    """Uniform on the black squares of a 4×4 checkerboard covering [-4, 4]² (FFJORD's toy)."""

    def sample(n: int, g: torch.Generator) -> tuple[Tensor, None]:
        x1 = 4 * torch.rand(n, generator=g) - 2  # (n,) in [-2, 2)
        x2 = torch.rand(n, generator=g) - 2 * torch.randint(2, (n,), generator=g)  # [-2, 1)
        x2 = x2 + torch.floor(x1) % 2
        return 2 * torch.stack([x1, x2], dim=1), None

    return sample


def draw(name: str, sampler: Sampler, split: str, *, seed: int, n_train: int, n_val: int, n_test: int,
         modes: Tensor | None = None, std: float | None = None) -> TensorData:
    """Draw the ``split`` of a toy dataset from ``sampler`` (see the module docstring for the seeds)."""
    if split == "test":
        x, y = sampler(n_test, torch.Generator().manual_seed(mix_seed(seed, 1)))
    else:
        full = sampler(n_train + n_val, torch.Generator().manual_seed(mix_seed(seed, 0)))
        x, y = select_split(split, full, (None, None), n_val=n_val, seed=seed)
    meta = {"modes": None if modes is None else modes.tolist(), "std": std}
    return TensorData(x=x.float(), y=y, name=name, split=split, kind="vector",
                      meta={k: v for k, v in meta.items() if v is not None})


def ring8(split: str = "train", *, seed: int = 0, n_train: int = 50_000, n_val: int = 5_000,
          n_test: int = 10_000) -> TensorData:
    """8 Gaussians (std 0.02) evenly spaced on a circle of radius 2."""
    modes = ring_modes(8, 2.0)
    return draw("ring8", mixture_sampler(modes, 0.02), split, seed=seed, n_train=n_train, n_val=n_val,
                n_test=n_test, modes=modes, std=0.02)


def grid25(split: str = "train", *, seed: int = 0, n_train: int = 50_000, n_val: int = 5_000,
           n_test: int = 10_000) -> TensorData:
    """25 Gaussians (std 0.05) on a 5×5 grid with centres at -4, -2, 0, 2, 4."""
    modes = grid_modes(5, 2.0)
    return draw("grid25", mixture_sampler(modes, 0.05), split, seed=seed, n_train=n_train, n_val=n_val,
                n_test=n_test, modes=modes, std=0.05)


def moons(split: str = "train", *, seed: int = 0, n_train: int = 50_000, n_val: int = 5_000,
          n_test: int = 10_000) -> TensorData:
    """Two interleaved half circles (``moons_sampler``); y = moon, ``std`` = noise std 0.1."""
    return draw("moons", moons_sampler(0.05), split, seed=seed, n_train=n_train, n_val=n_val,
                n_test=n_test, std=0.1)


def swissroll(split: str = "train", *, seed: int = 0, n_train: int = 50_000, n_val: int = 5_000,
              n_test: int = 10_000) -> TensorData:
    """2-D swiss roll (``swissroll_sampler``), noise std 0.1, no labels."""
    return draw("swissroll", swissroll_sampler(0.1), split, seed=seed, n_train=n_train, n_val=n_val,
                n_test=n_test, std=0.1)


def checkerboard(split: str = "train", *, seed: int = 0, n_train: int = 50_000, n_val: int = 5_000,
                 n_test: int = 10_000) -> TensorData:
    """Uniform on a 4×4 checkerboard's black squares in [-4, 4]² (``checkerboard_sampler``), no labels."""
    return draw("checkerboard", checkerboard_sampler(), split, seed=seed, n_train=n_train, n_val=n_val,
                n_test=n_test)
