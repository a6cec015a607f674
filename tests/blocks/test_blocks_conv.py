"""Convolution (C1–C4, C7) and pooling (C5): formulas against PyTorch's layers, and their properties."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from genlab.blocks import (
    TCN,
    CausalConv1d,
    Pool2d,
    UpsampleBlock,
    conv2d,
    conv_output_size,
    conv_transpose_output_size,
    pool2d,
)
from genlab.errors import ShapeError


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 20), k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2),
       d=st.integers(1, 3))
def test_conv_output_size_matches_pytorch_layers(n, k, s, p, d):
    f = d * (k - 1) + 1
    if n + 2 * p < f:
        with pytest.raises(ShapeError):
            conv_output_size(n, k, s, p, d)
        return
    layer = nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d)
    assert conv_output_size(n, k, s, p, d) == layer(torch.zeros(1, 1, n)).shape[-1]  # ⌊(n + 2p − f)/s⌋ + 1
    same = conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding="same", dilation=d)
    assert same.shape[-1] == conv_output_size(n, k, s, "same", d) == math.ceil(n / s)
    if n >= f:
        assert conv_output_size(n, k, s, "valid", d) == conv_output_size(n, k, s, 0, d)


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's own note about its copy
@settings(max_examples=20, deadline=None)
@given(H=st.integers(3, 9), W=st.integers(3, 9), k=st.integers(1, 3), s=st.integers(1, 2),
       p=st.integers(0, 1), d=st.integers(1, 2), same=st.booleans())
def test_conv2d_from_the_formula_equals_pytorch(H, W, k, s, p, d, same):
    x = torch.randn(2, 3, H, W, dtype=torch.float64)
    w, b = torch.randn(4, 3, k, k, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    if same and s == 1:  # PyTorch's 'same' needs stride 1
        torch.testing.assert_close(conv2d(x, w, b, padding="same", dilation=d),
                                   F.conv2d(x, w, b, padding="same", dilation=d), rtol=1e-10, atol=1e-12)
    elif min(H, W) + 2 * p >= d * (k - 1) + 1:
        torch.testing.assert_close(conv2d(x, w, b, stride=s, padding=p, dilation=d),
                                   F.conv2d(x, w, b, stride=s, padding=p, dilation=d), rtol=1e-10, atol=1e-12)


def test_conv2d_is_c1_on_a_small_example():
    """h[i, j] = u + Σ_{k1,k2} W[k1, k2] x[i + k1, j + k2] (the notes' 3×3 input, 2×2 kernel)."""
    x = torch.arange(9.0).view(1, 1, 3, 3)
    W = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    h = conv2d(x, W, torch.tensor([0.5]))
    expected = [[0.5 + sum(W[0, 0, a, b] * x[0, 0, i + a, j + b] for a in range(2) for b in range(2))
                 for j in range(2)] for i in range(2)]
    torch.testing.assert_close(h[0, 0], torch.tensor(expected))


def test_dilated_convolution_sees_inputs_on_a_dilated_lattice():
    """C3: y[i, j] depends on x[i + d·k1, j + d·k2] only; the receptive field grows to d(k − 1) + 1."""
    x = torch.randn(1, 1, 9, 9, requires_grad=True)
    y = conv2d(x, torch.ones(1, 1, 3, 3), dilation=2)
    assert y.shape[-1] == 5
    y[0, 0, 1, 2].backward()
    support = (x.grad[0, 0] != 0).nonzero().tolist()
    assert support == [[1 + 2 * a, 2 + 2 * b] for a in range(3) for b in range(3)]


def test_causal_conv_equals_the_c4_formula_and_keeps_the_length():
    conv = CausalConv1d(2, 3, kernel_size=3, dilation=2, bias=False).double()
    x = torch.randn(1, 2, 10, dtype=torch.float64)
    y = conv(x)
    assert y.shape == (1, 3, 10)
    W = conv.weight.flip(-1)  # W_{i'} = weight[..., k − 1 − i']
    for i in range(10):
        expected = sum(W[:, :, j] @ x[0, :, i - 2 * j] for j in range(3) if i - 2 * j >= 0)
        torch.testing.assert_close(y[0, :, i], expected)


def test_causal_conv_output_never_depends_on_future_inputs():
    conv = CausalConv1d(2, 2, kernel_size=4, dilation=3)
    x = torch.randn(1, 2, 20)
    y = conv(x)
    for i in range(19):
        x2 = x.clone()
        x2[:, :, i + 1 :] = torch.randn_like(x2[:, :, i + 1 :])
        torch.testing.assert_close(conv(x2)[:, :, : i + 1], y[:, :, : i + 1])


def test_tcn_receptive_field_equals_the_measured_dependence():
    tcn = TCN(2, [4, 4, 4], kernel_size=3, activation=nn.Tanh).double().eval()
    rf = tcn.receptive_field()
    assert rf == 1 + 2 * 2 * (1 + 2 + 4)  # 1 + Σ_i 2(k − 1) 2^i
    T = rf + 5
    x = torch.randn(1, 2, T, dtype=torch.float64, requires_grad=True)
    tcn(x)[0, :, -1].sum().backward()
    seen = (x.grad[0].abs().sum(0) != 0).nonzero().flatten()
    assert seen.min().item() == T - rf and seen.max().item() == T - 1


@pytest.mark.parametrize("kind", ["max", "min", "avg"])
@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 2), (2, 1)])
def test_pooling_matches_pytorch(kind, kernel, stride):
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    reference = {"max": lambda t: F.max_pool2d(t, kernel, stride),
                 "min": lambda t: -F.max_pool2d(-t, kernel, stride),
                 "avg": lambda t: F.avg_pool2d(t, kernel, stride)}[kind]
    torch.testing.assert_close(Pool2d(kernel, stride, kind)(x), reference(x))


def test_max_pool_gradient_goes_only_to_the_argmax():
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    out = pool2d(x, 2, kind="max")
    g = torch.randn_like(out)
    out.backward(g)
    _, idx = F.max_pool2d(x.detach(), 2, return_indices=True)
    expected = torch.zeros(1, 2, 36, dtype=torch.float64).scatter_(2, idx.flatten(2), g.flatten(2)).view_as(x)
    torch.testing.assert_close(x.grad, expected, rtol=0, atol=0)
    assert (x.grad != 0).sum() == out.numel()  # one position per window


def test_upsample_block_doubles_the_size_and_transposed_conv_is_the_adjoint_of_strided_conv():
    block = UpsampleBlock(3, 2).double()
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    y = block(x)
    assert y.shape == (2, 2, 8, 10) and block.output_size(4) == 8
    w = block.conv.weight  # (C_in, C_out, k, k)
    up = F.conv_transpose2d(x, w, stride=2, padding=1)
    assert up.shape[-2:] == (conv_transpose_output_size(4, 4, 2, 1), conv_transpose_output_size(5, 4, 2, 1))
    z = torch.randn_like(up)  # ⟨convᵀ(x), z⟩ = ⟨x, conv(z)⟩: the transposed convolution is the adjoint
    torch.testing.assert_close((up * z).sum(), (x * F.conv2d(z, w, stride=2, padding=1)).sum())
