"""Convolution from its formula (C1), output sizes (C2), dilation (C3) and transposed-convolution
up-sampling (C7).

Layout is PyTorch's, channels first: images ``(B, C, H, W)``. ``conv2d`` is the teaching
implementation (unfold + einsum) proven equal to ``F.conv2d``; networks use ``nn.Conv2d`` for speed.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.blocks.norm import BatchNorm2d
from genlab.errors import ConfigError, ShapeError

Padding = int | Literal["valid", "same"]
Pair = int | tuple[int, int]


def _pair(v: Pair, what: str) -> tuple[int, int]:
    out = (v, v) if isinstance(v, int) else tuple(v)
    if len(out) != 2:
        raise ConfigError(f"{what} must be an int or a pair of ints, got {v!r}")
    return out  # type: ignore[return-value]


def conv_output_size(n: int, kernel: int, stride: int = 1, padding: Padding = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one axis (C2): ``⌊(n + 2p − f)/s⌋ + 1``.

    ``f = d·(k − 1) + 1`` is the dilated kernel's extent (C3). ``padding="valid"`` is ``p = 0``;
    ``"same"`` pads so that the output has ``⌈n/s⌉`` positions (``n`` at stride 1); an int is ``p`` on
    each side.
    """
    if n < 1 or kernel < 1 or stride < 1 or dilation < 1:
        raise ConfigError(f"conv_output_size needs positive n, kernel, stride, dilation; got "
                          f"n={n}, kernel={kernel}, stride={stride}, dilation={dilation}")
    if padding == "same":
        return math.ceil(n / stride)
    p = 0 if padding == "valid" else padding
    if not isinstance(p, int) or p < 0:
        raise ConfigError(f"padding must be 'valid', 'same' or an int ≥ 0, got {padding!r}")
    f = dilation * (kernel - 1) + 1
    out = (n + 2 * p - f) // stride + 1
    if out < 1:
        raise ShapeError(f"a kernel of extent {f} does not fit an input of length {n} with padding {p}: "
                         f"use a smaller kernel or dilation, or more padding")
    return out


def same_padding(n: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """(left, right) zero padding that gives ``"same"`` output size ``⌈n/s⌉`` (extra on the right)."""
    f = dilation * (kernel - 1) + 1
    total = max((math.ceil(n / stride) - 1) * stride + f - n, 0)
    return total // 2, total - total // 2


def conv_transpose_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """Output length of a transposed convolution (C7): ``(n − 1)s − 2p + d(k − 1) + output_padding + 1``.

    It inverts C2: a strided convolution maps this length back to ``n``.
    """
    return (n - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Pair = 1,
           padding: Pair | Literal["valid", "same"] = 0, dilation: Pair = 1) -> Tensor:
    """2-D convolution from the formula (C1, with dilation C3), equal to ``F.conv2d``.

    ``h[b, o, i, j] = u_o + Σ_{c, k1, k2} W[o, c, k1, k2] · x[b, c, s·i + d·k1, s·j + d·k2]``
    (cross-correlation, as in deep learning) on the zero-padded input. ``x`` (B, C, H, W),
    ``weight`` (O, C, kh, kw), ``bias`` (O,) → (B, O, H', W') with H', W' from ``conv_output_size``.
    """
    if x.dim() != 4 or weight.dim() != 4 or x.shape[1] != weight.shape[1]:
        raise ShapeError(f"conv2d expects x (B, C, H, W) and weight (O, C, kh, kw) with the same C, got "
                         f"{tuple(x.shape)} and {tuple(weight.shape)}")
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    O, _, kh, kw = weight.shape
    H, W = x.shape[-2:]
    if padding == "same":
        (top, bottom), (left, right) = same_padding(H, kh, sh, dh), same_padding(W, kw, sw, dw)
    elif padding == "valid":
        top = bottom = left = right = 0
    else:
        (top, left) = _pair(padding, "padding")
        bottom, right = top, left
    x = F.pad(x, (left, right, top, bottom))  # zero padding
    Hp, Wp = x.shape[-2:]
    Ho = conv_output_size(Hp, kh, sh, 0, dh)
    Wo = conv_output_size(Wp, kw, sw, 0, dw)
    patches = F.unfold(x, (kh, kw), dilation=(dh, dw), stride=(sh, sw))  # (B, C·kh·kw, Ho·Wo)
    h = torch.einsum("bkl,ok->bol", patches, weight.flatten(1))  # Σ_{c,k1,k2} W[o,c,k1,k2] x[...]
    if bias is not None:
        h = h + bias[:, None]  # + u_o
    return h.view(x.shape[0], O, Ho, Wo)


class UpsampleBlock(nn.Module):
    """Learned up-sampling (C7): transposed convolution → batch norm → activation, as in DCGAN.

    Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep Convolutional
    GANs", arXiv:1511.06434. The transposed convolution is the adjoint of a strided convolution; with
    the defaults (kernel 4, stride 2, padding 1) it doubles height and width. ``(B, C_in, H, W) ->
    (B, C_out, H', W')`` with ``H' = conv_transpose_output_size(H, ...)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 4, stride: int = 2,
                 padding: int = 1, norm: bool = True, activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding, bias=not norm)
        self.norm = BatchNorm2d(out_channels) if norm else nn.Identity()
        self.act = activation()

    def output_size(self, n: int) -> int:
        """Side length of the output for an input of side ``n`` (C7)."""
        return conv_transpose_output_size(n, self.kernel_size, self.stride, self.padding)

    def forward(self, x: Tensor) -> Tensor:  # (B, C_in, H, W) -> (B, C_out, H', W')
        return self.act(self.norm(self.conv(x)))
