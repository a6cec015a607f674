"""Conditional VAE: the label's one-hot code is concatenated to the inputs of both networks.

Sohn, Lee & Yan, "Learning Structured Output Representation using Deep Conditional Generative
Models", NeurIPS 2015. ``q_φ(z|x, y) = N(μ, diag σ²)``, ``p(z) = N(0, I)``, ``p_θ(x|z, y)``;
``ELBO(x|y) = E_q[log p_θ(x|z, y)] − KL(q_φ(z|x, y) ‖ p(z))`` (V1 conditioned on ``y``), weighted as
in V6. Without a label the model is the mixture ``p(x) = Σ_y p(y) p(x|y)`` with uniform ``p(y)``.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.config import require
from genlab.errors import ConfigError, ShapeError
from genlab.models.base import Conditional, num_classes_of
from genlab.models.beta_vae import BetaVAEConfig, KLWarmup, WarmupVAEOutput, with_kl_weight
from genlab.models.gaussian import kl_standard_normal, log_normal, log_standard_normal, reparameterize, standard_normal
from genlab.models.inputs import check_count, check_labels
from genlab.models.networks import mlp
from genlab.models.vae import VAE, VAEOutput


@dataclasses.dataclass
class CVAEConfig(BetaVAEConfig):
    num_classes: int = 10  # K labels; `genlab train` reads it from the data

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.num_classes >= 2, f"num_classes must be ≥ 2, got {self.num_classes}")
        require(self.architecture == "mlp", "the conditional VAE is an MLP: use architecture='mlp'")


class CVAE(VAE, Conditional):
    """Conditional VAE (Sohn et al. 2015): ``encoder([x, onehot(y)])``, ``decoder([z, onehot(y)])``."""

    config_class = CVAEConfig
    sample_options = frozenset({"mean", "y"})
    code_needs_label = True  # encode(x, y): q(z|x, y)

    @classmethod
    def data_defaults(cls, data) -> dict:
        """The VAE's, and the number of classes in the labels."""
        return {**super().data_defaults(data), **num_classes_of(data)}

    def __init__(self, config: CVAEConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)  # the VAE's likelihood settings (log σ) ...
        c = self.config
        d_x, K = math.prod(c.data_shape), c.num_classes
        # ... and networks that also read the label: [x, onehot(y)] → (μ, log σ²), [z, onehot(y)] → x
        self.encoder = mlp([d_x + K, *c.hidden, 2 * c.latent_dim], c.activation)
        self.decoder = nn.Sequential(mlp([c.latent_dim + K, *reversed(c.hidden), d_x], c.activation),
                                     nn.Unflatten(1, c.data_shape))
        self.kl_warmup = KLWarmup(c.warmup_steps)

    # --- the two networks -------------------------------------------------------------------
    def one_hot(self, y: Tensor) -> Tensor:
        """Labels ``(B,)`` in ``[0, K)`` → one-hot ``(B, K)`` float (the labels are checked by the public
        methods: ``check_labels``)."""
        if y.dim() != 1 or y.dtype.is_floating_point:
            raise ShapeError(f"expected integer labels of shape (B,), got {y.dtype} {tuple(y.shape)}: "
                             f"pass y as a (B,) int64 tensor")
        return F.one_hot(y, self.config.num_classes).to(self.encoder[0].weight.dtype)

    def labels(self, y: Tensor | int | None, n: int) -> Tensor | None:
        """``y`` checked as ``n`` labels in ``0..K−1`` (``check_labels``); ``None`` stays ``None``."""
        return check_labels(self, y, n, num_classes=self.config.num_classes)

    def encode(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """``q_φ(z|x, y)``: ``(μ, log σ²)``, each ``(B, latent_dim)``."""
        x = self._inputs(x, likelihood=False)
        return self._encode(x, self._required_labels(y, len(x)))

    def _encode(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:  # x and y already checked
        h = self.encoder(torch.cat([x.flatten(1), self.one_hot(y)], dim=1))  # (B, 2·latent)
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor, y: Tensor) -> Tensor:
        """``p_θ(x|z, y)`` parameters (logits or mean), ``(B, *data_shape)``."""
        return self.decoder(torch.cat([z, self.one_hot(y)], dim=1))

    # --- objectives -------------------------------------------------------------------------
    def forward(self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
                ) -> WarmupVAEOutput:
        """``loss = −E_q log p_θ(x|z, y) + β_t · KL(q_φ(z|x, y) ‖ N(0, I))``, one sample (V4)."""
        x = self._inputs(x)
        y = self._required_labels(y, len(x))
        mu, logvar = self._encode(x, y)  # (B, L) each
        z = reparameterize(mu, logvar, generator=generator)  # (B, L)
        x_hat = self.decode(z, y)  # (B, *data_shape)
        rec = -self.log_px_given_z(x, x_hat).mean()
        kl = kl_standard_normal(mu, logvar).mean()
        out = VAEOutput(loss=rec + kl, reconstruction=rec, kl=kl, elbo=-(rec + kl), x_hat=x_hat, z=z,
                        mu=mu, logvar=logvar)
        return with_kl_weight(out, self.kl_warmup.weight(self.config.beta))

    @torch.no_grad()
    def elbo(self, x: Tensor, *, y: Tensor | None = None, generator: torch.Generator | None = None
             ) -> Tensor:
        """Per-example ``ELBO(x|y)`` (nats) → ``(B,)``. Without ``y``, ``y ~ p(y)`` uniform: then
        ``E_y ELBO(x|y)`` bounds ``log p(x)`` of the label mixture (``q(y) = p(y)`` cancels)."""
        x = self._inputs(x)
        y = self._random_labels(len(x), generator) if y is None else self.labels(y, len(x))
        mu, logvar = self._encode(x, y)
        z = reparameterize(mu, logvar, generator=generator)
        return self.log_px_given_z(x, self.decode(z, y)) - kl_standard_normal(mu, logvar)

    def log_importance_weights(self, x: Tensor, k: int, *, y: Tensor | None = None,
                               generator: torch.Generator | None = None) -> Tensor:
        """V8: ``log p(x, z_k|y) − log q(z_k|x, y)`` → ``(B, k)``. Without ``y``, each sample also draws
        ``y_k ~ p(y)``, so the weights estimate ``p(x) = Σ_y p(y) p(x|y)``."""
        x, k = self._inputs(x), check_count(k, what="k")
        B = len(x)
        yk = (self._random_labels(B * k, generator).view(B, k) if y is None
              else self.labels(y, B)[:, None].expand(B, k)).reshape(B * k)  # (B·k,)
        xk = x[:, None].expand(B, k, *x.shape[1:]).reshape(B * k, *x.shape[1:])  # (B·k, *data_shape)
        mu, logvar = self._encode(xk, yk)  # (B·k, L)
        z = reparameterize(mu, logvar, generator=generator)
        log_pxz = self.log_px_given_z(xk, self.decode(z, yk)) + log_standard_normal(z)  # log p(x, z|y)
        return (log_pxz - log_normal(z, mu, logvar)).view(B, k)

    # --- generation and inference -----------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, y: int | Tensor | None = None,
               mean: bool = True) -> Tensor:
        """V7 given a label: ``z ~ N(0, I)``, ``x ~ p_θ(x|z, y)``. ``y``: one label for all ``n``, a
        tensor of ``n`` labels, or ``None`` for ``0, 1, …, K−1, 0, 1, …`` (a grid row per class)."""
        n = check_count(n)
        labels = self._labels_for(n, y)
        z = standard_normal((n, self.config.latent_dim), like=next(self.parameters()), generator=generator)
        return self._to_data(self.decode(z, labels), mean=mean, generator=generator)

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """The label with the highest ELBO at the posterior mean,
        ``argmax_y log p(x|μ_y, y) − KL(q(z|x, y) ‖ p(z))`` → ``(B,)``."""
        return self._predict(self._inputs(x))

    def _predict(self, x: Tensor) -> Tensor:  # x already checked
        scores = []
        for c in range(self.config.num_classes):
            y = torch.full((len(x),), c, dtype=torch.long, device=x.device)
            mu, logvar = self._encode(x, y)
            scores.append(self.log_px_given_z(x, self.decode(mu, y)) - kl_standard_normal(mu, logvar))
        return torch.stack(scores, 1).argmax(1)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Decoder mean at the posterior mean; without ``y`` the label is ``predict(x)``."""
        x = self._inputs(x, likelihood=y is None)  # predict scores x by its likelihood
        y = self._predict(x) if y is None else self.labels(y, len(x))
        mu, _ = self._encode(x, y)
        return self._to_data(self.decode(mu, y), mean=True)

    def _random_labels(self, n: int, generator: torch.Generator | None) -> Tensor:
        return torch.randint(self.config.num_classes, (n,), generator=generator).to(self.device)

    def _required_labels(self, y: Tensor | None, n: int) -> Tensor:
        if y is None:
            raise ConfigError("the conditional VAE trains on labelled data: pass y (a dataset with labels)")
        return self.labels(y, n)

    def _labels_for(self, n: int, y: int | Tensor | None) -> Tensor:
        if y is None:
            return torch.arange(n, device=self.device) % self.config.num_classes
        return self.labels(y, n)
