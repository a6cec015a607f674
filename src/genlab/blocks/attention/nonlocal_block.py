"""From convolution to attention (A10): the non-local operation and the non-local block."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from genlab.blocks.init import zero_module
from genlab.errors import ShapeError


def non_local(x: Tensor) -> Tensor:
    """``h_i = Σ_j softmax_j(x_iᵀ x_j / √d) x_j`` (A10): attention (A1) without projections.

    The last step of the notes' path from a 1-D convolution ``h_i = Σ_{j=−k..k} W_j x_{i+j}`` (local,
    fixed weights) through ``h_i = Σ_j g(i + j) x_j`` (no locality) to data-dependent weights
    ``α(x_i, x_j)``. ``x`` (B, N, d) → (B, N, d).
    """
    if x.dim() != 3:
        raise ShapeError(f"non_local expects (B, N, d), got {tuple(x.shape)}")
    x4 = x[:, None]  # (B, 1, N, d): one head, so the fused 4-D kernel is used
    return F.scaled_dot_product_attention(x4, x4, x4)[:, 0]


class NonLocalBlock(nn.Module):
    """Non-local block for feature maps (A10), Wang et al. 2018, "Non-local Neural Networks",
    arXiv:1711.07971 (embedded-Gaussian form).

    With ``θ, φ, g`` 1×1 convolutions to ``inner_channels``: ``y_i = Σ_j softmax_j(θ(x_i)ᵀφ(x_j)/√d) g(x_j)``
    over all ``H·W`` positions, ``z = W_z y + x``. ``W_z`` starts at zero, so the block starts as the
    identity. ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int, inner_channels: int | None = None) -> None:
        super().__init__()
        inner = inner_channels or max(channels // 2, 1)
        self.theta = nn.Conv2d(channels, inner, 1)
        self.phi = nn.Conv2d(channels, inner, 1)
        self.g = nn.Conv2d(channels, inner, 1)
        self.W_z = zero_module(nn.Conv2d(inner, channels, 1))  # the block starts as the identity

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W)
        if x.dim() != 4:
            raise ShapeError(f"NonLocalBlock expects (B, C, H, W), got {tuple(x.shape)}")
        B, _, H, W = x.shape
        # θ(x), φ(x), g(x) as (B, 1, H·W, c): one head over all positions
        q, k, v = (f(x).flatten(2).transpose(1, 2)[:, None] for f in (self.theta, self.phi, self.g))
        y = F.scaled_dot_product_attention(q, k, v)[:, 0]  # (B, HW, c)
        y = y.transpose(1, 2).reshape(B, -1, H, W)  # (B, c, H, W)
        return self.W_z(y) + x  # residual
