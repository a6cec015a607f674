"""Optimizers and learning-rate schedules of the systems (F5)."""

from __future__ import annotations

import torch

from genlab.schedules import cosine_factor


def adam(params, *, lr: float, weight_decay: float = 0.0,
         betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
    """Adam (F5) with PyTorch's fused CPU kernel: one pass over all parameters per step."""
    return torch.optim.Adam(list(params), lr=lr, weight_decay=weight_decay, betas=betas, fused=True)


def cosine_schedule(opt: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """``lr · cosine_factor(n, total)`` after ``n`` scheduler steps (one per iteration)."""
    total = max(1, total)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda n: cosine_factor(n, total))
