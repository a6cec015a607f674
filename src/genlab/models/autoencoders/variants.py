"""Regularized autoencoders, each one hook on ``Autoencoder``: sparse (AE2), denoising (AE3),
contractive (AE4)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import Tensor, nn

from genlab.config import require
from genlab.errors import ConfigError
from genlab.models.autoencoders.core import Autoencoder, AutoencoderConfig
from genlab.models.autoencoders.noise import gaussian_noise, masking_noise
from genlab.models.autoencoders.penalties import (
    contraction_sigmoid_layer,
    jacobian_frobenius_sq,
    l1_sparsity,
)


# --- AE2 -------------------------------------------------------------------------------------
@dataclasses.dataclass
class SparseAEConfig(AutoencoderConfig):
    sparsity: float = 1e-3  # λ in L + λ Σ_i |h_i|
    code_activation: Literal["identity", "sigmoid", "relu", "tanh"] = "relu"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.sparsity >= 0, f"sparsity (λ) must be ≥ 0, got {self.sparsity}")


class SparseAE(Autoencoder):
    """AE2: ``L(x, g(f(x))) + λ Σ_i |h_i|`` (an L1 penalty on the code; Ng, CS294A notes, 2011)."""

    config_class = SparseAEConfig

    def penalty(self, x_in: Tensor, h: Tensor) -> Tensor:
        return self.config.sparsity * l1_sparsity(h).mean()


# --- AE3 -------------------------------------------------------------------------------------
@dataclasses.dataclass
class DenoisingAEConfig(AutoencoderConfig):
    corruption: Literal["gaussian", "masking"] = "gaussian"  # x + N(0, σ²I), or zero each value w.p. p
    noise_std: float = 0.3  # σ of the Gaussian corruption
    mask_prob: float = 0.3  # p of the masking corruption

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.noise_std >= 0, f"noise_std must be ≥ 0, got {self.noise_std}")
        require(0 <= self.mask_prob < 1, f"mask_prob must be in [0, 1), got {self.mask_prob}")


class DenoisingAE(Autoencoder):
    """AE3: ``min L(x, g(f(x̃)))`` with ``x̃`` a corrupted copy of ``x`` (Vincent et al., ICML 2008).

    The corruption is part of the objective, so validation losses corrupt too; ``reconstruct``
    (the denoiser) applies ``g∘f`` to whatever it is given.
    """

    config_class = DenoisingAEConfig

    def corrupt(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        c = self.config
        if c.corruption == "gaussian":
            return gaussian_noise(x, c.noise_std, generator=generator)
        return masking_noise(x, c.mask_prob, generator=generator)


# --- AE4 -------------------------------------------------------------------------------------
@dataclasses.dataclass
class ContractiveAEConfig(AutoencoderConfig):
    contraction: float = 0.1  # λ in L + λ ‖∂f(x)/∂x‖_F²
    jacobian: Literal["auto", "closed_form", "autograd"] = "auto"  # auto: closed form when it applies
    hidden: tuple[int, ...] = ()  # the classic CAE: one sigmoid layer h = σ(Wx + b)
    code_activation: Literal["identity", "sigmoid", "relu", "tanh"] = "sigmoid"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.contraction >= 0, f"contraction (λ) must be ≥ 0, got {self.contraction}")
        if self.jacobian == "closed_form":
            require(self.has_sigmoid_layer_encoder,
                    "jacobian='closed_form' needs a one-layer sigmoid MLP encoder (architecture='mlp', "
                    "hidden=(), code_activation='sigmoid'): use jacobian='autograd'")

    @property
    def has_sigmoid_layer_encoder(self) -> bool:
        return self.architecture == "mlp" and self.hidden == () and self.code_activation == "sigmoid"


class ContractiveAE(Autoencoder):
    """AE4: ``L(x, g(f(x))) + λ ‖∂f(x)/∂x‖_F²`` (Rifai et al., "Contractive Auto-Encoders", ICML 2011).

    The Jacobian norm is computed in closed form for a one-layer sigmoid encoder and by autograd
    (``torch.func``) for any other encoder; ``jacobian_norm`` exposes both.
    """

    config_class = ContractiveAEConfig

    def penalty(self, x_in: Tensor, h: Tensor) -> Tensor:
        c = self.config
        if c.contraction == 0:
            return h.new_zeros(())  # λ = 0: skip the Jacobian (by autograd it costs one pass per code unit)
        method = c.jacobian
        if method == "auto":
            method = "closed_form" if c.has_sigmoid_layer_encoder else "autograd"
        return c.contraction * self.jacobian_norm(x_in, method=method, h=h).mean()

    def jacobian_norm(self, x: Tensor, *, method: Literal["closed_form", "autograd"] = "autograd",
                      h: Tensor | None = None) -> Tensor:
        """``‖∂f(x)/∂x‖_F²`` per example → ``(B,)``, in closed form or by autograd."""
        if method == "autograd":
            return jacobian_frobenius_sq(self.encoder, x)
        if not self.config.has_sigmoid_layer_encoder:
            raise ConfigError("the closed-form Jacobian needs a one-layer sigmoid MLP encoder: "
                              "use method='autograd'")
        linear: nn.Linear = self.encoder[1][0]  # Flatten → (Linear → Sigmoid)
        h = self.encoder(x) if h is None else h  # (B, H)
        return contraction_sigmoid_layer(h, linear.weight)
