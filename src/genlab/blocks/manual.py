"""Hand-derived backward passes of the notes, as executable derivations (R2, C6).

Each function runs the forward pass, then the backward pass written term by term as the notes derive
it — no autograd. The tests show that every gradient equals autograd's.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from genlab.blocks.conv import conv2d
from genlab.blocks.losses import binary_cross_entropy_with_logits
from genlab.errors import ShapeError


class BPTTGradients(NamedTuple):
    """Loss and its gradients for the many-to-one RNN of R2."""

    loss: Tensor
    grad_W_i: Tensor  # (D, H)
    grad_W_h: Tensor  # (H, H)
    grad_W_o: Tensor  # (H, 1)


def rnn_many_to_one_bptt(x: Tensor, y: Tensor, W_i: Tensor, W_h: Tensor, W_o: Tensor) -> BPTTGradients:
    """Backpropagation through time (R2) for ``o_t = tanh(x_t W_i + o_{t−1} W_h)``, ``ŷ = σ(o_T W_o)``.

    Loss: binary cross-entropy averaged over the batch. ``x`` (B, T, D), ``y`` (B,) in {0, 1},
    ``W_i`` (D, H), ``W_h`` (H, H), ``W_o`` (H, 1), ``o_0 = 0``. The notes' formulas:
    ``∂L/∂W_o = ∂L/∂ŷ · ∂ŷ/∂W_o``; ``∂L/∂W_i = Σ_{j=1..T} ∂L/∂ŷ · ∂ŷ/∂o_j · ∂o_j/∂W_i`` with
    ``∂ŷ/∂o_j = ∂ŷ/∂o_T Π_{k=j+1..T} ∂o_k/∂o_{k−1}`` (the product is accumulated backwards, one factor
    per step); the same for ``W_h``.
    """
    if x.dim() != 3 or x.shape[-1] != W_i.shape[0]:
        raise ShapeError(f"expected x (B, T, {W_i.shape[0]}), got {tuple(x.shape)}")
    B, T, _ = x.shape
    y = y.reshape(B, 1).to(x.dtype)
    # forward: keep every o_t (o[0] = o_0 = 0)
    o = [x.new_zeros(B, W_h.shape[0])]
    for t in range(1, T + 1):
        o.append(torch.tanh(x[:, t - 1] @ W_i + o[t - 1] @ W_h))  # o_t = tanh(x_t W_i + o_{t−1} W_h)
    z = o[T] @ W_o  # (B, 1) logit
    y_hat = torch.sigmoid(z)  # ŷ = σ(o_T W_o)
    loss = binary_cross_entropy_with_logits(z, y)
    # backward
    dL_dz = (y_hat - y) / B  # ∂L/∂ŷ · ∂ŷ/∂z = (ŷ − y)/(ŷ(1 − ŷ)) · ŷ(1 − ŷ), mean over the batch
    grad_W_o = o[T].T @ dL_dz  # ∂L/∂W_o = ∂L/∂ŷ · ∂ŷ/∂W_o
    dL_do = dL_dz @ W_o.T  # ∂L/∂ŷ · ∂ŷ/∂o_T  (B, H)
    grad_W_i, grad_W_h = torch.zeros_like(W_i), torch.zeros_like(W_h)
    for j in range(T, 0, -1):  # term j of the sum; dL_do = ∂L/∂ŷ · ∂ŷ/∂o_j
        dL_da = dL_do * (1 - o[j] ** 2)  # through tanh: a_j = x_j W_i + o_{j−1} W_h
        grad_W_i += x[:, j - 1].T @ dL_da  # · ∂o_j/∂W_i (the direct dependence)
        grad_W_h += o[j - 1].T @ dL_da  # · ∂o_j/∂W_h
        dL_do = dL_da @ W_h.T  # one more factor: ∂o_j/∂o_{j−1}
    return BPTTGradients(loss, grad_W_i, grad_W_h, grad_W_o)


class CNNGradients(NamedTuple):
    """Loss and its gradients for the binary CNN classifier of C6."""

    loss: Tensor
    grad_W1: Tensor  # (O, C, k, k)
    grad_b1: Tensor  # (O,)
    grad_W2: Tensor  # (1, F)
    grad_b2: Tensor  # (1,)


def cnn_backprop(X: Tensor, y: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor,
                 pool: int = 2) -> CNNGradients:
    """Backpropagation through conv → ReLU → max-pool → flatten → dense → sigmoid (C6, notes 001).

    Forward: ``Z1 = conv(X, W1) + b1`` (valid, stride 1), ``A1 = relu(Z1)``, ``P1 = maxpool(A1)``
    (``pool × pool`` windows, stride ``pool``), ``F = flatten(P1)``, ``Z2 = W2 F + b2``,
    ``A2 = σ(Z2)``; loss BCE averaged over the batch. ``X`` (B, C, H, W), ``y`` (B,), ``W1`` (O, C, k, k),
    ``b1`` (O,), ``W2`` (1, F), ``b2`` (1,). Backward: ``∂L/∂W2 = (A2 − y) Fᵀ``, ``∂L/∂b2 = A2 − y``,
    ``∂L/∂F = W2ᵀ (A2 − y)`` reshaped to ``P1``, max-pool backward routes each gradient to its window's
    argmax, ``relu' = 1[Z1 > 0]``, ``∂L/∂b1 = Σ ∂L/∂Z1``, ``∂L/∂W1 = conv(X, ∂L/∂Z1)``.
    """
    if X.dim() != 4:
        raise ShapeError(f"expected X (B, C, H, W), got {tuple(X.shape)}")
    B = X.shape[0]
    y = y.reshape(B, 1).to(X.dtype)
    # forward
    Z1 = conv2d(X, W1, b1)  # (B, O, H1, W1)
    A1 = torch.relu(Z1)
    O, H1, W1_ = A1.shape[1:]
    Hp, Wp = H1 // pool, W1_ // pool
    windows = A1[:, :, : Hp * pool, : Wp * pool].unfold(2, pool, pool).unfold(3, pool, pool)
    P1, argmax = windows.flatten(-2).max(dim=-1)  # (B, O, Hp, Wp), index inside each window
    F = P1.flatten(1)  # (B, F)
    Z2 = F @ W2.T + b2  # (B, 1)
    A2 = torch.sigmoid(Z2)
    loss = binary_cross_entropy_with_logits(Z2, y)
    # backward, dense part
    dZ2 = (A2 - y) / B  # ∂L/∂A2 · ∂A2/∂Z2 = A2 − y (per sample; 1/B from the mean)
    grad_W2 = dZ2.T @ F  # ∂L/∂W2 = (A2 − y) Fᵀ   (1, F)
    grad_b2 = dZ2.sum(0)  # ∂L/∂b2 = A2 − y
    dP1 = (dZ2 @ W2).view_as(P1)  # ∂L/∂F = W2ᵀ (A2 − y), reshaped to P1
    # max-pool backward: each window's gradient goes to the position of its maximum, zeros elsewhere
    dwin = torch.zeros(*P1.shape, pool * pool, dtype=X.dtype, device=X.device)
    dwin.scatter_(-1, argmax[..., None], dP1[..., None])  # (B, O, Hp, Wp, pool²)
    dA1 = torch.zeros_like(A1)
    dA1[:, :, : Hp * pool, : Wp * pool] = (
        dwin.view(B, O, Hp, Wp, pool, pool).permute(0, 1, 2, 4, 3, 5).reshape(B, O, Hp * pool, Wp * pool))
    dZ1 = dA1 * (Z1 > 0)  # relu'(Z1) = 1[Z1 > 0]
    grad_b1 = dZ1.sum(dim=(0, 2, 3))  # ∂L/∂b1 = Σ ∂L/∂Z1
    # ∂L/∂W1[o, c] = Σ_b conv(X[b, c], ∂L/∂Z1[b, o]): a convolution of X with ∂L/∂Z1 (batch as channels)
    grad_W1 = conv2d(X.transpose(0, 1), dZ1.transpose(0, 1)).transpose(0, 1)  # (O, C, k, k)
    return CNNGradients(loss, grad_W1, grad_b1, grad_W2, grad_b2)
