"""Gradient clipping by norm (F4)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from genlab.errors import NonFiniteError


def clip_grad_norm(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False) -> Tensor:
    """Rescale gradients in place so that their joint norm is at most ``max_norm`` (F4).

    ``‖g‖`` is the ``norm_type``-norm of all gradients together; if ``‖g‖ > G_max``:
    ``ĝ = g / ‖g‖ · G_max``. As ``torch.nn.utils.clip_grad_norm_`` (which it equals), ``1e−6`` is
    added to ``‖g‖`` in the division. Returns ``‖g‖`` before clipping. Pascanu, Mikolov & Bengio 2013,
    "On the difficulty of training recurrent neural networks", arXiv:1211.5063.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    norms = torch.stack([torch.linalg.vector_norm(g.detach(), norm_type) for g in grads])
    total = torch.linalg.vector_norm(norms, norm_type)  # ‖g‖ over all parameters
    if error_if_nonfinite and not torch.isfinite(total):
        raise NonFiniteError(f"the gradient norm is {total.item()}: the loss or a gradient is NaN or "
                             f"infinite; lower the learning rate or check the data")
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)  # G_max / ‖g‖ when ‖g‖ > G_max, else 1
    for g in grads:
        g.detach().mul_(scale.to(g.device, g.dtype))
    return total
