"""Causal 1-D convolution (C4) and the temporal convolutional network built from it.

Layout is PyTorch's conv layout, channels first: sequences ``(B, C, T)`` (transpose a batch-first
``(B, T, D)`` sequence with ``x.transpose(1, 2)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from genlab.errors import ConfigError, ShapeError


class CausalConv1d(nn.Conv1d):
    """Causal 1-D convolution (C4): ``H_{i,d} = Σ_{i'=0..k−1} Σ_z W_{i',z,d} X_{i−d·i', z}``.

    The input is left-padded by ``(k − 1)·dilation`` zeros, so the output at ``i`` sees only inputs
    ``≤ i`` and has the input's length. ``W_{i'} = weight[..., k − 1 − i']``: PyTorch stores the taps
    in cross-correlation order, oldest input first. van den Oord et al. 2016, "WaveNet", arXiv:1609.03499.
    Parameters are ``nn.Conv1d``'s (``weight`` (C_out, C_in, k), ``bias``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
                 bias: bool = True) -> None:
        if kernel_size < 1 or dilation < 1:
            raise ConfigError(f"CausalConv1d needs kernel_size ≥ 1 and dilation ≥ 1, got "
                              f"{kernel_size} and {dilation}")
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.left_padding = (kernel_size - 1) * dilation

    @property
    def receptive_field(self) -> int:
        """Number of input steps one output step sees: ``(k − 1)·d + 1``."""
        return self.left_padding + 1

    def forward(self, x: Tensor) -> Tensor:  # (B, C_in, T) -> (B, C_out, T)
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ShapeError(f"CausalConv1d expects (B, {self.in_channels}, T) (channels first), got "
                             f"{tuple(x.shape)}: transpose a (B, T, D) sequence with x.transpose(1, 2)")
        return super().forward(F.pad(x, (self.left_padding, 0)))  # left padding only: causal


class TemporalBlock(nn.Module):
    """TCN residual block: two dilated causal convolutions (C4) with activation and dropout, plus a
    residual connection (a 1×1 convolution when the channel count changes).

    Bai, Kolter & Koltun 2018, "An Empirical Evaluation of Generic Convolutional and Recurrent
    Networks for Sequence Modeling", arXiv:1803.01271 (weight normalization left out).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int,
                 dropout: float = 0.0, activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.conv1 = CausalConv1d(in_channels, out_channels, kernel_size, dilation)
        self.conv2 = CausalConv1d(out_channels, out_channels, kernel_size, dilation)
        self.act = activation()
        self.dropout = nn.Dropout(dropout)
        self.downsample = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else None

    @property
    def receptive_field(self) -> int:
        """Input steps one output sees: ``2·(k − 1)·d + 1`` (two convolutions)."""
        return self.conv1.left_padding + self.conv2.left_padding + 1

    def forward(self, x: Tensor) -> Tensor:  # (B, C_in, T) -> (B, C_out, T)
        h = self.dropout(self.act(self.conv1(x)))
        h = self.dropout(self.act(self.conv2(h)))
        residual = x if self.downsample is None else self.downsample(x)
        return self.act(h + residual)


class TCN(nn.Module):
    """Temporal convolutional network: ``TemporalBlock`` ``i`` has dilation ``2^i`` (Bai et al. 2018).

    ``channels`` lists each block's output channels. The receptive field grows exponentially with
    depth: ``1 + Σ_i 2·(k − 1)·2^i`` (``receptive_field()``). ``(B, C_in, T) -> (B, channels[-1], T)``.
    """

    def __init__(self, in_channels: int, channels: Sequence[int], kernel_size: int = 2,
                 dropout: float = 0.0, activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        if not channels:
            raise ConfigError("TCN needs at least one block: pass channels=[64, 64, ...]")
        ins = [in_channels, *channels[:-1]]
        self.blocks = nn.Sequential(*(TemporalBlock(i, o, kernel_size, 2**n, dropout, activation)
                                      for n, (i, o) in enumerate(zip(ins, channels, strict=True))))

    def receptive_field(self) -> int:
        """Number of past input steps (including the current one) that one output step depends on."""
        return 1 + sum(b.receptive_field - 1 for b in self.blocks)

    def forward(self, x: Tensor) -> Tensor:  # (B, C_in, T) -> (B, C_out, T)
        return self.blocks(x)
