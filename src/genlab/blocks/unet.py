"""The pieces of a U-Net (Ronneberger et al. 2015, arXiv:1505.04597): a residual block that may take a
conditioning vector, stride-2 down-sampling and nearest-neighbour up-sampling.

In the form of the diffusion U-Net of Ho et al. 2020 (arXiv:2006.11239, App. B; itself after
PixelCNN++ and Wide ResNets), generic enough for any image-to-image U-Net (e.g. a pix2pix generator).
Images are ``(B, C, H, W)``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from genlab.blocks.init import zero_module
from genlab.errors import GenlabError


class ResidualBlock(nn.Module):
    """``h = skip(x) + conv₂(drop(SiLU(GN(conv₁(SiLU(GN(x))) + W e))))``, ``(B, C_in, H, W) → (B, C_out, H, W)``.

    He et al. 2016 (arXiv:1512.03385) with pre-activation GroupNorm (Wu & He 2018, arXiv:1803.08494).
    ``embed_dim``: the block also reads a vector ``e`` (B, embed_dim), e.g. a diffusion time embedding,
    added per channel after the first convolution; ``None``: no conditioning input. ``skip`` is a 1×1
    convolution when the channels change (else the identity); ``conv₂`` starts at zero, so the block
    starts as ``skip``.
    """

    def __init__(self, in_channels: int, out_channels: int, *, embed_dim: int | None = None, groups: int = 32,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb_proj = nn.Linear(embed_dim, out_channels) if embed_dim is not None else None  # W
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_module(nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        if (emb is None) != (self.emb_proj is None):
            raise GenlabError("this ResidualBlock takes no emb: build it with embed_dim=..." if self.emb_proj is None
                              else f"this ResidualBlock needs emb of shape (B, {self.emb_proj.in_features})")
        h = self.conv1(F.silu(self.norm1(x)))  # (B, out, H, W)
        if self.emb_proj is not None:
            h = h + self.emb_proj(F.silu(emb))[:, :, None, None]  # + W e, per channel
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class Downsample(nn.Module):
    """Stride-2 3×3 convolution: ``(B, C, H, W) → (B, C, ⌈H/2⌉, ⌈W/2⌉)`` (28 → 14 → 7)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour up-sampling to ``size`` (the skip connection's; default twice the input), then a
    3×3 convolution: ``(B, C, H, W) → (B, C, *size)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor, size: tuple[int, int] | None = None) -> Tensor:
        size = size if size is not None else (2 * x.shape[-2], 2 * x.shape[-1])
        return self.conv(F.interpolate(x, size=size, mode="nearest"))  # (B, C, *size)
