"""Importance weighted autoencoder: the VAE trained on the k-sample bound (V8 as the objective).

Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", 2015, arXiv:1509.00519, Eq. (8):

    L_k(x) = E_{z_1..z_k ~ q(z|x)} [ log 1/k Σ_j p(x, z_j) / q(z_j|x) ],

with ``L_1 = ELBO ≤ L_k ≤ L_{k+1} ≤ log p(x)``. The network is the VAE's; only the loss changes.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from genlab.config import require
from genlab.models.base import ModelOutput
from genlab.models.vae import VAE, VAEConfig


@dataclasses.dataclass
class IWAEConfig(VAEConfig):
    k: int = 5  # importance samples per example in the training bound (k = 1 is the VAE)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.k >= 1, f"k must be ≥ 1, got {self.k}")


@dataclasses.dataclass
class IWAEOutput(ModelOutput):
    """``loss = −iwae``; ``elbo`` is the k-sample average of ``log w`` (an unbiased ELBO estimate)."""

    iwae: Tensor  # mean over the batch of L_k (nats)
    elbo: Tensor  # mean over the batch and the k samples of log w_j (nats)


class IWAE(VAE):
    """The VAE trained on ``L_k`` (Burda et al. 2015); ``elbo``, ``sample`` and the rest are the VAE's."""

    config_class = IWAEConfig

    def forward(self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
                ) -> IWAEOutput:
        """``loss = −mean_B log 1/k Σ_j w_j``, ``w_j = p_θ(x, z_j)/q_φ(z_j|x)``, reparameterized ``z_j``."""
        from genlab.models.likelihood import iwae_bound  # V8, log-sum-exp over the k samples

        log_w = self.log_importance_weights(x, self.config.k, generator=generator)  # (B, k)
        iwae = iwae_bound(log_w).mean()
        return IWAEOutput(loss=-iwae, iwae=iwae, elbo=log_w.mean())
