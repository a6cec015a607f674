"""Positional encodings (A5): sinusoidal and learned position vectors ``E``, combined with the inputs
by addition ``X' = X + E`` or concatenation ``X' = [X ∥ E]``."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.errors import ConfigError, ShapeError


def _angles(t: Tensor, n: int, d: int, base: float, dtype: torch.dtype) -> Tensor:
    """``t ω_i`` with ``ω_i = base^(−2i/d)``, ``i = 0 … n − 1`` (A5): ``(B,)`` → ``(B, n)`` in ``dtype``."""
    freqs = torch.exp(-math.log(base) * torch.arange(n, device=t.device, dtype=dtype) / (d / 2))  # (n,) ω_i
    return t.to(dtype)[:, None] * freqs[None]  # (B, n)


def sinusoidal_embedding(t: Tensor, dim: int, *, base: float = 10000.0, interleave: bool = False,
                         dtype: torch.dtype = torch.float32) -> Tensor:
    """Sinusoidal features of (possibly fractional) positions or timesteps ``t`` (B,) → ``(B, dim)``.

    ``sin(t ω_k)`` and ``cos(t ω_k)`` with ``ω_k = base^(−k/h)``, ``h = ⌊dim/2⌋``, ``k = 0 … h − 1`` (A5):
    Vaswani et al. 2017, "Attention Is All You Need", arXiv:1706.03762, §3.5; used for the diffusion
    timestep by Ho et al. 2020 (arXiv:2006.11239, App. B). ``interleave=False`` lays them out as
    ``[sin ∥ cos]`` (the diffusion models'), ``True`` as ``sin, cos, sin, …``. Computed in ``dtype``; an odd
    ``dim`` ends with a zero column (``sinusoidal_table`` is A5 with ``d = dim`` for every ``dim``).
    """
    half = dim // 2
    args = _angles(t, half, 2 * half, base, dtype)  # (B, half)
    sin, cos = torch.sin(args), torch.cos(args)
    emb = torch.stack([sin, cos], dim=-1).flatten(1) if interleave else torch.cat([sin, cos], dim=1)  # (B, 2·half)
    return F.pad(emb, (0, dim - 2 * half))


def sinusoidal_table(positions: Tensor, dim: int, base: float = 10000.0) -> Tensor:
    """A5: ``E[p, 2i] = sin(p / base^{2i/d})``, ``E[p, 2i+1] = cos(p / base^{2i/d})`` with ``d = dim``, for
    ``positions`` (T,) → (T, dim) float64.

    Vaswani et al. 2017, "Attention Is All You Need", arXiv:1706.03762, §3.5. For an even ``dim`` this is
    ``sinusoidal_embedding(..., interleave=True)`` in float64, bit for bit; an odd ``dim`` ends with the sine
    of ``i = (dim − 1)/2``.
    """
    args = _angles(positions, (dim + 1) // 2, dim, base, torch.float64)  # (T, ⌈d/2⌉) p ω_i
    return torch.stack([torch.sin(args), torch.cos(args)], dim=-1).flatten(1)[:, :dim]  # (T, dim) sin, cos, …


class SinusoidalPositions(nn.Module):
    """Fixed sinusoidal position vectors (A5); ``forward(T, offset=0)`` → ``E`` (T, dim) for positions
    ``offset .. offset + T − 1``. No parameters and no length limit."""

    def __init__(self, dim: int, base: float = 10000.0) -> None:
        super().__init__()
        if dim < 1:
            raise ConfigError(f"position dim must be ≥ 1, got {dim}")
        self.dim, self.base = dim, base
        self.register_buffer("_device_probe", torch.zeros(0), persistent=False)

    def forward(self, length: int, offset: int = 0) -> Tensor:  # -> (T, dim)
        probe = self._device_probe  # follows .to(device, dtype) of the module
        p = torch.arange(offset, offset + length, device=probe.device)
        return sinusoidal_table(p, self.dim, self.base).to(probe.dtype)


class LearnedPositions(nn.Module):
    """Learned position vectors (A5): a table ``weight`` (max_len, dim), ``E = weight[offset : offset + T]``
    (as GPT-2, Radford et al. 2019)."""

    def __init__(self, max_len: int, dim: int) -> None:
        super().__init__()
        for name, value in (("max_len", max_len), ("dim", dim)):
            if value < 1:
                raise ConfigError(f"LearnedPositions' {name} must be ≥ 1, got {value}")
        self.max_len, self.dim = max_len, dim
        self.weight = nn.Parameter(torch.randn(max_len, dim) * 0.02)

    def forward(self, length: int, offset: int = 0) -> Tensor:  # -> (T, dim)
        if offset + length > self.max_len:
            raise ShapeError(f"positions up to {offset + length} requested but only {self.max_len} are "
                             f"learned: raise max_len or use sinusoidal positions")
        return self.weight[offset : offset + length]


class PositionalEncoding(nn.Module):
    """Adds position information to a sequence (A5): ``X' = X + E`` (``"add"``) or ``X' = [X ∥ E]``
    (``"concat"``; the output has ``D + dim`` features). ``forward(x (B, T, D), offset=0)``; ``offset``
    is the position of ``x[:, 0]`` (used when decoding with a cache)."""

    def __init__(self, positions: nn.Module, combine: Literal["add", "concat"] = "add") -> None:
        super().__init__()
        if combine not in ("add", "concat"):
            raise ConfigError(f"combine must be 'add' or 'concat', got {combine!r}")
        self.positions, self.combine = positions, combine

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:  # (B, T, D) -> (B, T, D) or (B, T, D + dim)
        if x.dim() != 3:
            raise ShapeError(f"PositionalEncoding expects (B, T, D), got {tuple(x.shape)}")
        B, T, D = x.shape
        E = self.positions(T, offset).to(x.dtype)  # (T, dim)
        if self.combine == "add":
            if E.shape[-1] != D:
                raise ShapeError(f"adding positions of size {E.shape[-1]} to features of size {D}: "
                                 f"make them equal or use combine='concat'")
            return x + E  # X' = X + E
        return torch.cat([x, E.expand(B, T, E.shape[-1])], dim=-1)  # X' = [X ∥ E]
