"""Regularizers of the sparse (AE2) and contractive (AE4) autoencoders, as pure functions."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def l1_sparsity(h: Tensor) -> Tensor:
    """AE2: ``Σ_i |h_i|`` per example → ``(B,)`` (Ng, "Sparse autoencoder", CS294A notes, 2011)."""
    return h.abs().flatten(1).sum(1)


def contraction_sigmoid_layer(h: Tensor, weight: Tensor) -> Tensor:
    """AE4 in closed form for ``h = σ(W x + b)``: ``‖∂h/∂x‖_F² = Σ_j (h_j(1−h_j))² Σ_i W_ji²`` → ``(B,)``.

    Rifai et al., "Contractive Auto-Encoders", ICML 2011, Eq. (7). ``h`` ``(B, H)``, ``W`` ``(H, D)``.
    """
    return ((h * (1 - h)) ** 2) @ (weight**2).sum(1)  # (B, H) @ (H,) → (B,)


def jacobian_frobenius_sq(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """AE4 for any encoder: ``‖∂f(x)/∂x‖_F²`` per example by autograd → ``(B,)``.

    The per-example Jacobian ``(H, *x.shape[1:])`` comes from ``torch.func.jacrev`` vectorized over
    the batch by ``vmap``; it stays differentiable in the parameters ``f`` closes over, so the
    penalty can be minimized. Cost: one vector-Jacobian product per code unit.
    """
    def single(xi: Tensor) -> Tensor:  # (*x.shape[1:]) → (H,)
        return f(xi[None])[0]

    J = torch.func.vmap(torch.func.jacrev(single))(x)  # (B, H, *x.shape[1:])
    return J.pow(2).flatten(1).sum(1)
