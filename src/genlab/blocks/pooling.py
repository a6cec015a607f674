"""Pooling (C5): max, min and average over windows, written from the definition."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from genlab.errors import ConfigError, ShapeError

PoolKind = Literal["max", "min", "avg"]


def pool2d(x: Tensor, kernel: int, stride: int | None = None, kind: PoolKind = "max") -> Tensor:
    """Pool each ``kernel × kernel`` window of ``x`` (B, C, H, W) with step ``stride`` (C5).

    ``max`` / ``min`` take the window's extreme value — the gradient goes only to the position of
    the maximum (minimum) — and ``avg`` its mean. No padding ("valid"); equals ``F.max_pool2d`` /
    ``F.avg_pool2d`` and ``−F.max_pool2d(−x)``.
    """
    if kind not in ("max", "min", "avg"):
        raise ConfigError(f"pool kind must be 'max', 'min' or 'avg', got {kind!r}")
    if x.dim() != 4:
        raise ShapeError(f"pool2d expects (B, C, H, W), got {tuple(x.shape)}")
    s = stride or kernel
    if min(x.shape[-2:]) < kernel:
        raise ShapeError(f"a {kernel}×{kernel} pooling window does not fit input {tuple(x.shape)}")
    windows = x.unfold(2, kernel, s).unfold(3, kernel, s).flatten(-2)  # (B, C, H', W', k·k), a view
    if kind == "max":
        return windows.max(dim=-1).values  # max(): gradient to one argmax, not split among ties
    if kind == "min":
        return windows.min(dim=-1).values
    return windows.mean(dim=-1)


class Pool2d(nn.Module):
    """Max / min / average pooling layer (C5); see ``pool2d``."""

    def __init__(self, kernel_size: int, stride: int | None = None, kind: PoolKind = "max") -> None:
        super().__init__()
        if kind not in ("max", "min", "avg"):
            raise ConfigError(f"pool kind must be 'max', 'min' or 'avg', got {kind!r}")
        self.kernel_size, self.stride, self.kind = kernel_size, stride, kind

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, C, H', W')
        return pool2d(x, self.kernel_size, self.stride, self.kind)

    def extra_repr(self) -> str:
        return f"{self.kind}, kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"
