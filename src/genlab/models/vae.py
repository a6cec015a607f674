"""Variational autoencoder (V1–V5, V7, V8).

Kingma & Welling, "Auto-Encoding Variational Bayes", 2013, arXiv:1312.6114.
Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", 2015, arXiv:1509.00519.

Notation: ``q_φ(z|x) = N(μ, diag σ²)`` (the encoder), ``p(z) = N(0, I)``, ``p_θ(x|z)`` a Bernoulli
(logits) or Gaussian (mean, shared learned σ) decoder. ``ELBO = E_q[log p_θ(x|z)] − KL(q ‖ p)``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.config import Config, require
from genlab.models.base import Encodes, Generative, LatentVariable, Model, ModelOutput, Reconstructs
from genlab.models.gaussian import (
    LOG_2PI,
    kl_standard_normal,
    log_normal,
    log_standard_normal,
    reparameterize,
)
from genlab.models.inputs import check_count, check_data
from genlab.models.networks import conv_decoder, conv_encoder, mlp


@dataclasses.dataclass
class VAEConfig(Config):
    data_shape: tuple[int, ...] = (1, 28, 28)  # shape of one example (C, H, W) or (D,)
    latent_dim: int = 32  # dim z
    hidden: tuple[int, ...] = (512, 256)  # MLP widths of the encoder (reversed for the decoder)
    architecture: Literal["mlp", "conv"] = "mlp"  # conv: two stride-2 convs, needs H, W divisible by 4
    channels: tuple[int, ...] = (32, 64)  # conv widths (architecture="conv")
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"  # p_θ(x|z): binary vs real-valued data
    gaussian_std: float | None = None  # σ of the Gaussian decoder; None learns one shared σ
    beta: float = 1.0  # V6: weight of the KL term (1 = the ELBO)
    activation: Literal["relu", "tanh", "gelu", "glu"] = "relu"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.latent_dim >= 1, f"latent_dim must be ≥ 1, got {self.latent_dim}")
        require(len(self.data_shape) in (1, 3),
                f"data_shape must be (D,) or (C, H, W), got {self.data_shape}")
        require(all(h >= 1 for h in self.hidden) and len(self.hidden) >= 1,
                f"hidden needs at least one positive width, got {self.hidden}")
        require(self.beta >= 0, f"beta must be ≥ 0, got {self.beta}")
        require(self.gaussian_std is None or self.gaussian_std > 0, "gaussian_std must be > 0 or None")
        if self.architecture == "conv":
            require(self.activation != "glu", "activation='glu' gates MLP layers only: use "
                    "architecture='mlp' or another activation")
            require(len(self.data_shape) == 3 and self.data_shape[1] % 4 == 0 and self.data_shape[2] % 4 == 0,
                    f"architecture='conv' needs images (C, H, W) with H, W divisible by 4, got "
                    f"{self.data_shape}: use architecture='mlp'")


@dataclasses.dataclass
class VAEOutput(ModelOutput):
    """``loss = reconstruction + β·kl`` (per-example means); ``elbo`` is the β = 1 bound."""

    reconstruction: Tensor  # −E_q log p_θ(x|z), mean over the batch (nats)
    kl: Tensor  # KL(q_φ(z|x) ‖ p(z)), mean over the batch (nats)
    elbo: Tensor  # mean ELBO (nats)
    x_hat: Tensor  # decoder output: logits (Bernoulli) or mean (Gaussian), (B, *data_shape)
    z: Tensor  # (B, latent_dim)
    mu: Tensor  # (B, latent_dim)
    logvar: Tensor  # (B, latent_dim)


class VAE(Model, Generative, Reconstructs, Encodes, LatentVariable):
    """Gaussian-latent VAE with an MLP or small conv encoder/decoder (V1–V5, V7, V8).

    Inputs ``x`` are checked by ``genlab.models.inputs.check_data``: float batches ``(B, *data_shape)``,
    converted to the parameters' dtype (integer tensors are refused: ``x.float()`` or ``x.float() / 255``),
    in [0, 1] wherever the Bernoulli likelihood is evaluated (``forward``, ``elbo``, importance weights;
    ``encode`` and ``reconstruct`` take any real values, e.g. noisy inputs).
    """

    config_class = VAEConfig
    sample_options = frozenset({"mean"})  # mean=False: a draw x ~ p_θ(x|z) instead of the decoder mean

    def __init__(self, config: VAEConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        d_x = math.prod(c.data_shape)
        if c.architecture == "mlp":
            self.encoder = nn.Sequential(nn.Flatten(), mlp([d_x, *c.hidden, 2 * c.latent_dim], c.activation))
            self.decoder = nn.Sequential(mlp([c.latent_dim, *reversed(c.hidden), d_x], c.activation),
                                         nn.Unflatten(1, c.data_shape))
        else:
            h, act = c.hidden[:1], c.activation
            self.encoder = conv_encoder(c.data_shape, c.channels, h, 2 * c.latent_dim, act)  # (B, 2L)
            self.decoder = conv_decoder(c.data_shape, c.channels, h, c.latent_dim, act)  # (B, *data_shape)
        if c.likelihood == "gaussian" and c.gaussian_std is None:
            self.log_sigma = nn.Parameter(torch.zeros(()))  # shared learned log σ of p_θ(x|z)

    @classmethod
    def data_defaults(cls, data) -> dict:
        """The data's shape; a Bernoulli decoder for images in [0, 1], Gaussian for other real-valued data (V2)."""
        x = data.x
        in_unit = bool(x.min() >= 0 and x.max() <= 1)
        return {"data_shape": tuple(x.shape[1:]), "likelihood": "bernoulli" if x.dim() == 4 and in_unit else "gaussian"}

    # --- the two networks -------------------------------------------------------------------
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``q_φ(z|x)``: returns ``(μ, log σ²)``, each ``(B, latent_dim)``."""
        return self._encode(self._inputs(x, likelihood=False))

    def _encode(self, x: Tensor) -> tuple[Tensor, Tensor]:  # x already checked
        h = self.encoder(x)  # (B, 2·latent)
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """``p_θ(x|z)`` parameters: logits (Bernoulli) or mean (Gaussian), ``(B, *data_shape)``."""
        return self.decoder(z)

    def log_px_given_z(self, x: Tensor, x_hat: Tensor) -> Tensor:
        """V2: ``log p_θ(x|z)`` summed over pixels → ``(B,)``; BCE from logits or Gaussian."""
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(x_hat, x, reduction="none").flatten(1).sum(1)
        log_sigma = self.log_sigma if hasattr(self, "log_sigma") else math.log(self.config.gaussian_std)
        logvar = torch.as_tensor(2 * log_sigma, dtype=x.dtype, device=x.device).expand_as(x)
        return log_normal(x, x_hat, logvar)

    # --- objectives -------------------------------------------------------------------------
    def forward(self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
                ) -> VAEOutput:
        """V2/V6: ``loss = −E_q log p_θ(x|z) + β·KL(q_φ(z|x) ‖ N(0, I))`` with one sample (V4)."""
        x = self._inputs(x)
        mu, logvar = self._encode(x)  # (B, L) each
        z = reparameterize(mu, logvar, generator=generator)  # (B, L)
        x_hat = self.decode(z)  # (B, *data_shape)
        rec = -self.log_px_given_z(x, x_hat).mean()
        kl = kl_standard_normal(mu, logvar).mean()  # V3 closed form
        loss = rec + self.config.beta * kl
        return VAEOutput(loss=loss, reconstruction=rec, kl=kl, elbo=-(rec + kl), x_hat=x_hat, z=z,
                         mu=mu, logvar=logvar)

    @torch.no_grad()
    def elbo(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """V1: per-example ELBO (nats) with one reparameterized sample, ``(B,)``."""
        x = self._inputs(x)
        mu, logvar = self._encode(x)
        z = reparameterize(mu, logvar, generator=generator)
        return self.log_px_given_z(x, self.decode(z)) - kl_standard_normal(mu, logvar)

    def log_importance_weights(self, x: Tensor, k: int, *, generator: torch.Generator | None = None
                               ) -> Tensor:
        """V5/V8: ``log p_θ(x, z_k) − log q_φ(z_k|x)`` for ``k`` samples per example → ``(B, k)``."""
        x, k = self._inputs(x), check_count(k, what="k")
        mu, logvar = self._encode(x)  # (B, L)
        B, L = mu.shape
        eps = torch.randn((B, k, L), generator=generator, dtype=mu.dtype, device=mu.device)
        z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps  # (B, k, L)
        x_hat = self.decode(z.reshape(B * k, L))  # (B·k, *data_shape)
        xk = x[:, None].expand(B, k, *x.shape[1:]).reshape(B * k, *x.shape[1:])
        log_px_z = self.log_px_given_z(xk, x_hat).view(B, k)
        log_pz = log_standard_normal(z.reshape(B * k, L)).view(B, k)
        # V4: log q(z|x) = Σ_i log N(ε_i; 0, 1) − log σ_i
        log_qz = (-0.5 * (LOG_2PI + eps**2)).sum(-1) - 0.5 * logvar.sum(-1, keepdim=True)
        return log_px_z + log_pz - log_qz

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, k: int = 5000, *, batch_size: int = 100,
                       generator: torch.Generator | None = None, progress: bool = False) -> Tensor:
        """V8: importance-sampled ``log p(x) ≈ log 1/K Σ_k p(x, z_k)/q(z_k|x)`` per example (nats)."""
        from genlab.models.likelihood import log_likelihood

        return log_likelihood(self, x, k=k, batch_size=batch_size, generator=generator, progress=progress)

    # --- generation -------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, mean: bool = True) -> Tensor:
        """V7: ``z ~ N(0, I)``, ``x ~ p_θ(x|z)``; returns the decoder mean (``mean=True``) or a draw.

        ``z`` (and the Gaussian decoder's noise) is drawn in the dtype and on the device of the parameters.
        """
        from genlab.models.gaussian import standard_normal

        n = check_count(n)
        z = standard_normal((n, self.config.latent_dim), like=next(self.parameters()), generator=generator)
        return self._to_data(self.decode(z), mean=mean, generator=generator)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Decoder mean at the posterior mean: ``E[x | z = μ_φ(x)]``."""
        mu, _ = self.encode(x)  # checks x
        return self._to_data(self.decode(mu), mean=True)

    def _to_data(self, x_hat: Tensor, *, mean: bool, generator: torch.Generator | None = None) -> Tensor:
        if self.config.likelihood == "bernoulli":
            p = torch.sigmoid(x_hat)
            return p if mean else torch.bernoulli(p, generator=generator)
        if mean:
            return x_hat
        from genlab.models.gaussian import standard_normal

        sigma = self.log_sigma.exp() if hasattr(self, "log_sigma") else self.config.gaussian_std
        return x_hat + sigma * standard_normal(x_hat.shape, like=x_hat, generator=generator)

    def _inputs(self, x: Tensor, *, likelihood: bool = True) -> Tensor:
        """``x`` checked (``check_data``); where its ``likelihood`` is evaluated, Bernoulli needs values in [0, 1]."""
        bernoulli = likelihood and self.config.likelihood == "bernoulli"
        return check_data(self, x, what="inputs", unit_interval=bernoulli,
                          range_hint="or build the model with likelihood='gaussian' for real-valued data")
