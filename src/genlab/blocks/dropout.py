"""Dropout (N4) and Monte Carlo dropout (N5)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError


class Dropout(nn.Module):
    """Dropout (N4): ``H̃ = H ⊙ M / (1 − p)``, ``M_ij ~ Bernoulli(1 − p)``, in training only.

    Srivastava et al. 2014, "Dropout: A Simple Way to Prevent Neural Networks from Overfitting"
    (JMLR 15). Dividing by ``1 − p`` keeps ``E[H̃] = H``, so evaluation mode is the identity.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        m = torch.empty_like(x).bernoulli_(1.0 - self.p)  # M_ij ~ Bernoulli(1 − p)
        return x * m / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


#: module types switched on by ``mc_predict``
DROPOUT_TYPES: tuple[type[nn.Module], ...] = (
    Dropout, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout,
)


class MCPrediction(NamedTuple):
    """Monte Carlo dropout prediction: ``mean`` over the passes and their ``std`` (the spread)."""

    mean: Tensor
    std: Tensor


@torch.no_grad()
def mc_predict(model: nn.Module, x: Tensor, n: int = 20) -> MCPrediction:
    """Monte Carlo dropout (N5): ``ŷ = 1/N Σ_i f(x; M_i)`` over ``n`` stochastic passes, and the spread.

    The model runs in evaluation mode (batch norm uses its running statistics) with only its dropout
    modules (``DROPOUT_TYPES``) in training mode; every module's mode is restored afterwards, even on
    error. ``std`` is the sample standard deviation over the passes (zero when ``n = 1``). Gal &
    Ghahramani 2016, "Dropout as a Bayesian Approximation", arXiv:1506.02142.
    """
    if n < 1:
        raise ConfigError(f"mc_predict needs n ≥ 1 passes, got {n}")
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        for m in model.modules():
            if isinstance(m, DROPOUT_TYPES):
                m.train()
        samples = torch.stack([model(x) for _ in range(n)])  # (n, ...)
    finally:
        for m, mode in modes.items():
            m.training = mode
    std = samples.std(dim=0) if n > 1 else torch.zeros_like(samples[0])
    return MCPrediction(samples.mean(dim=0), std)
