"""Multi-head self-attention over the positions of a feature map (A1, A4), the U-Net's attention."""

from __future__ import annotations

from torch import Tensor, nn

from genlab.blocks.attention.dot_product import scaled_dot_product_attention
from genlab.blocks.init import zero_module
from genlab.errors import ConfigError, ShapeError


class SelfAttention2d(nn.Module):
    """``x + W_o MHA(GN(x))`` over the ``H·W`` positions of ``x`` (B, C, H, W), residual (A1, A4).

    Vaswani et al. 2017 (arXiv:1706.03762) on the pixels of a feature map, as in the U-Net of Ho et al.
    2020 (arXiv:2006.11239, App. B): GroupNorm, one 1×1 convolution for ``Q, K, V`` (``3C`` channels,
    heads split as in ``MultiHeadAttention``), scaled dot-product attention (A1) per head, and a 1×1
    output convolution that starts at zero, so the block starts as the identity.
    """

    def __init__(self, channels: int, *, heads: int, groups: int) -> None:
        super().__init__()
        if channels % heads:
            raise ConfigError(
                f"attention over {channels} channels cannot use {heads} heads: choose num_heads dividing {channels}"
            )
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)  # [W_q; W_k; W_v] as 1×1 convolutions
        self.proj_out = zero_module(nn.Conv2d(channels, channels, 1))  # W_o

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ShapeError(f"SelfAttention2d expects (B, C, H, W), got {tuple(x.shape)}")
        B, C, H, W = x.shape
        qkv = self.qkv(self.norm(x)).reshape(B, 3, self.heads, C // self.heads, H * W)  # (B, 3, nh, hs, HW)
        q, k, v = qkv.transpose(-1, -2).unbind(1)  # each (B, nh, HW, hs)
        h = scaled_dot_product_attention(q, k, v)  # (B, nh, HW, hs), A1
        h = h.transpose(-1, -2).reshape(B, C, H, W)
        return x + self.proj_out(h)
