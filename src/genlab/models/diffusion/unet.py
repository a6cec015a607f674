"""A small U-Net denoiser ``ε_θ(x_t, t, y)`` for 28×28 images (the network of D2/D3).

Ronneberger et al., "U-Net", 2015, arXiv:1505.04597, in the form of Ho et al. 2020
(arXiv:2006.11239, App. B): residual blocks with GroupNorm and a time embedding, self-attention at
the lowest resolution, skip connections from every block of the down path. Defaults (base 32
channels, multipliers (1, 2, 2), attention at 7×7) train on a 2-core CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.models.diffusion.embeddings import ConditionEmbedding


def _zero(module: nn.Module) -> nn.Module:
    """Zero-initialize a layer so that a residual branch starts as the identity (Ho et al.'s code)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """``h = x + conv(SiLU(GN(conv(SiLU(GN(x))) + W e)))`` (1×1 projection of ``x`` if channels change)."""

    def __init__(self, in_ch: int, out_ch: int, *, embed_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb_proj = nn.Linear(embed_dim, out_ch)
        self.norm2 = nn.GroupNorm(groups, out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, out, H, W)
        h = h + self.emb_proj(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention2d(nn.Module):
    """Multi-head self-attention over the ``H·W`` positions of a feature map, residual (A1/A4)."""

    def __init__(self, channels: int, *, heads: int, groups: int) -> None:
        super().__init__()
        if channels % heads:
            raise ConfigError(
                f"attention over {channels} channels cannot use {heads} heads: "
                f"choose num_heads dividing {channels}"
            )
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj_out = _zero(nn.Conv2d(channels, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        qkv = self.qkv(self.norm(x)).reshape(B, 3, self.heads, C // self.heads, H * W)
        q, k, v = qkv.transpose(-1, -2).unbind(1)  # each (B, nh, HW, hs)
        h = F.scaled_dot_product_attention(q, k, v)  # (B, nh, HW, hs)
        h = h.transpose(-1, -2).reshape(B, C, H, W)
        return x + self.proj_out(h)


class Downsample(nn.Module):
    """Stride-2 3×3 convolution: ``H → ⌈H/2⌉`` (28 → 14 → 7)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour upsampling to the skip connection's size, then a 3×3 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class UNet(nn.Module):
    """U-Net ``(x_t (B, C, H, W), t (B,), y (B,) | None) → (B, out_channels, H, W)``.

    Per level ``i`` (resolution halves after each but the last): ``num_res_blocks`` residual blocks of
    ``channels · channel_mults[i]`` channels, with self-attention where the resolution is in
    ``attn_resolutions``; a middle block res–attention–res; the up path mirrors it with
    ``num_res_blocks + 1`` blocks per level, each reading one skip connection. ``t`` may be
    fractional (VDM passes a rescaled ``γ``). ``num_classes > 0`` adds a label embedding with a null
    class (``y = None``) for classifier-free guidance.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        image_size: int = 28,
        channels: int = 32,
        channel_mults: tuple[int, ...] = (1, 2, 2),
        num_res_blocks: int = 1,
        attn_resolutions: tuple[int, ...] = (7,),
        num_heads: int = 4,
        norm_groups: int = 8,
        dropout: float = 0.0,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        if channels % norm_groups:
            raise ConfigError(
                f"channels={channels} must be a multiple of norm_groups={norm_groups} "
                f"(GroupNorm): e.g. channels=32, norm_groups=8"
            )
        embed_dim = 4 * channels
        block = dict(embed_dim=embed_dim, groups=norm_groups, dropout=dropout)
        self.embedding = ConditionEmbedding(base_dim=channels, embed_dim=embed_dim, num_classes=num_classes)
        self.conv_in = nn.Conv2d(in_channels, channels, 3, padding=1)

        # down path: remember the channels of every skip connection
        skip_channels, now = [channels], channels
        resolutions = [image_size]  # resolution of each level: 28, 14, 7
        for _ in channel_mults[1:]:
            resolutions.append((resolutions[-1] + 1) // 2)
        self.down = nn.ModuleList()
        self.down_attn = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for i, mult in enumerate(channel_mults):
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(now, channels * mult, **block))
                now = channels * mult
                self.down_attn.append(
                    self._attn(now, resolutions[i], attn_resolutions, num_heads, norm_groups)
                )
                skip_channels.append(now)
            if i < len(channel_mults) - 1:
                self.downsample.append(Downsample(now))
                skip_channels.append(now)
        # middle at the lowest resolution
        self.mid1 = ResBlock(now, now, **block)
        self.mid_attn = SelfAttention2d(now, heads=num_heads, groups=norm_groups)
        self.mid2 = ResBlock(now, now, **block)
        # up path
        self.up = nn.ModuleList()
        self.up_attn = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, mult in reversed(list(enumerate(channel_mults))):
            for _ in range(num_res_blocks + 1):
                self.up.append(ResBlock(now + skip_channels.pop(), channels * mult, **block))
                now = channels * mult
                self.up_attn.append(self._attn(now, resolutions[i], attn_resolutions, num_heads, norm_groups))
            if i > 0:
                self.upsample.append(Upsample(now))
        self.norm_out = nn.GroupNorm(norm_groups, now)
        self.conv_out = nn.Conv2d(now, out_channels, 3, padding=1)
        self.num_levels, self.num_res_blocks = len(channel_mults), num_res_blocks
        # channels-last convolution weights: oneDNN runs the CPU training step ~25% faster
        self.to(memory_format=torch.channels_last)

    @staticmethod
    def _attn(ch: int, res: int, attn_resolutions: tuple[int, ...], heads: int, groups: int) -> nn.Module:
        return SelfAttention2d(ch, heads=heads, groups=groups) if res in attn_resolutions else nn.Identity()

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        emb = self.embedding(t, y)  # (B, 4·ch)
        h = self.conv_in(x.contiguous(memory_format=torch.channels_last))  # (B, ch, H, W)
        skips = [h]
        blocks = iter(zip(self.down, self.down_attn, strict=True))
        for i in range(self.num_levels):
            for _ in range(self.num_res_blocks):
                res_block, attn = next(blocks)
                h = attn(res_block(h, emb))
                skips.append(h)
            if i < self.num_levels - 1:
                h = self.downsample[i](h)  # (B, c, ⌈H/2⌉, ⌈W/2⌉)
                skips.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        blocks = iter(zip(self.up, self.up_attn, strict=True))
        for j in range(self.num_levels):
            for _ in range(self.num_res_blocks + 1):
                res_block, attn = next(blocks)
                h = attn(res_block(torch.cat([h, skips.pop()], dim=1), emb))
            if j < self.num_levels - 1:
                h = self.upsample[j](h, size=skips[-1].shape[-2:])
        return self.conv_out(F.silu(self.norm_out(h)))  # (B, out_channels, H, W)
