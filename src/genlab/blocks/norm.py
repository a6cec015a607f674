"""Normalization layers written from their formulas: batch norm (N1, N2) and layer norm (N3).

Parameter and buffer names equal PyTorch's (``weight``, ``bias``, ``running_mean``, ``running_var``,
``num_batches_tracked``), so a ``state_dict`` moves between these and ``torch.nn.BatchNorm1d/2d`` /
``torch.nn.LayerNorm``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError, ShapeError


class BatchNorm(nn.Module):
    """Batch normalization (N1; N2 for feature maps), Ioffe & Szegedy 2015, arXiv:1502.03167.

    Training: per channel ``j``, ``μ_j = 1/b Σ_i H_ij``, ``σ_j² = 1/b Σ_i (H_ij − μ_j)²`` over the batch
    (N1, input ``(B, C)``) or over batch, height and width (N2, input ``(B, C, *spatial)``), then
    ``H' = γ (H − μ)/√(σ² + ε) + β``. The running averages (``running_var`` from the unbiased variance,
    as PyTorch does) replace ``μ, σ²`` in evaluation mode. ``momentum=None`` keeps a cumulative average.
    """

    #: input ranks accepted (``None``: any rank ≥ 2)
    ranks: ClassVar[tuple[int, ...] | None] = None

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__()
        if num_features < 1:
            raise ConfigError(f"BatchNorm needs num_features ≥ 1, got {num_features}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"BatchNorm momentum must be in [0, 1] or None, got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))  # γ
            self.bias = nn.Parameter(torch.zeros(num_features))  # β
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x: Tensor) -> Tensor:  # (B, C) or (B, C, *spatial)
        C = self.num_features
        if x.dim() < 2 or x.shape[1] != C or (self.ranks is not None and x.dim() not in self.ranks):
            ranks = self.ranks or "≥ 2"
            raise ShapeError(f"{type(self).__name__}({C}) expects input (B, {C}, ...) with rank {ranks}, "
                             f"got {tuple(x.shape)}: put the channels on axis 1")
        dims = [0, *range(2, x.dim())]  # N1: over the batch; N2: over batch, height and width
        shape = (1, C) + (1,) * (x.dim() - 2)
        if self.training or not self.track_running_stats:
            n = x.numel() // C
            if self.training and n < 2:
                raise ShapeError(f"{type(self).__name__} needs more than one value per channel in "
                                 f"training, got input {tuple(x.shape)}: use a batch of 2 or more")
            var, mu = torch.var_mean(x, dim=dims, correction=0)  # σ² = 1/b Σ (H − μ)², μ = 1/b Σ H
            if self.training and self.track_running_stats:
                self._update_running_stats(mu, var, n)
        else:
            mu, var = self.running_mean, self.running_var
        x_hat = (x - mu.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)  # (H − μ)/√(σ² + ε)
        if self.affine:
            return x_hat * self.weight.view(shape) + self.bias.view(shape)  # γ Ĥ + β
        return x_hat

    @torch.no_grad()
    def _update_running_stats(self, mu: Tensor, var: Tensor, n: int) -> None:
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.lerp_(mu.detach(), factor)
        self.running_var.lerp_(var.detach() * (n / (n - 1)), factor)  # unbiased, as PyTorch

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(BatchNorm):
    """Batch norm over ``(B, C)`` (N1) or ``(B, C, T)`` inputs; drop-in for ``torch.nn.BatchNorm1d``."""

    ranks = (2, 3)


class BatchNorm2d(BatchNorm):
    """Batch norm over feature maps ``(B, C, H, W)`` (N2); drop-in for ``torch.nn.BatchNorm2d``."""

    ranks = (4,)


class LayerNorm(nn.Module):
    """Layer normalization (N3), Ba, Kiros & Hinton 2016, arXiv:1607.06450.

    Statistics per sample over the trailing ``normalized_shape`` axes: ``μ_i = 1/f Σ_j H_ij``,
    ``σ_i² = 1/f Σ_j (H_ij − μ_i)²``, ``H' = γ (H − μ)/√(σ² + ε) + β``; the same in training and
    evaluation. Drop-in for ``torch.nn.LayerNorm``.
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or min(shape) < 1:
            raise ConfigError(f"LayerNorm needs a non-empty positive normalized_shape, "
                              f"got {normalized_shape}")
        self.normalized_shape, self.eps = shape, eps
        self.weight = nn.Parameter(torch.ones(shape)) if elementwise_affine else None  # γ
        self.bias = nn.Parameter(torch.zeros(shape)) if elementwise_affine and bias else None  # β

    def forward(self, x: Tensor) -> Tensor:  # (..., *normalized_shape)
        k = len(self.normalized_shape)
        if tuple(x.shape[-k:]) != self.normalized_shape:
            raise ShapeError(f"LayerNorm{self.normalized_shape} expects inputs ending in "
                             f"{self.normalized_shape}, got {tuple(x.shape)}")
        var, mu = torch.var_mean(x, dim=tuple(range(-k, 0)), keepdim=True, correction=0)
        x_hat = (x - mu) * torch.rsqrt(var + self.eps)  # (H − μ)/√(σ² + ε)
        if self.weight is not None:
            x_hat = x_hat * self.weight
        if self.bias is not None:
            x_hat = x_hat + self.bias
        return x_hat

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
