"""The autoencoder (AE1): ``h = f(x)``, ``x̃ = g(h)``, ``min L(x, g(f(x)))``; base of its variants.

Undercomplete when ``code_dim < dim x``, overcomplete when ``code_dim ≥ dim x``. The loss ``L`` is
the binary cross-entropy from logits (F3, images in [0, 1]) or the squared error (AE5), summed over
the values of an example and averaged over the batch. A variant changes one of two hooks:
``corrupt`` (the input the encoder sees, AE3) or ``penalty`` (a term added to the loss, AE2, AE4).
Every autoencoder can ``sample`` once a Gaussian mixture is fitted to its codes (X1, ``code_prior``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.config import Config, require
from genlab.models.autoencoders.code_prior import GaussianMixturePrior, fit_code_prior
from genlab.models.autoencoders.networks import conv_autoencoder, mlp_autoencoder
from genlab.models.base import Encodes, Generative, Model, ModelOutput, ReconstructionScored, Reconstructs
from genlab.models.inputs import check_count, check_data
from genlab.models.networks import init_output_bias_


@dataclasses.dataclass
class AutoencoderConfig(Config):
    data_shape: tuple[int, ...] = (1, 28, 28)  # shape of one example (C, H, W) or (D,)
    code_dim: int = 32  # dim h: < dim x undercomplete, ≥ dim x overcomplete
    hidden: tuple[int, ...] = (256,)  # widths between x and h (reversed in the decoder); () = one layer
    architecture: Literal["mlp", "conv"] = "mlp"  # conv: two stride-2 convs, needs H, W divisible by 4
    channels: tuple[int, ...] = (32, 64)  # conv widths (architecture="conv")
    activation: Literal["relu", "tanh", "gelu"] = "relu"  # between hidden layers
    code_activation: Literal["identity", "sigmoid", "relu", "tanh"] = "identity"  # on h
    loss: Literal["bce", "mse"] = "bce"  # bce: x in [0, 1], decoder outputs logits; mse: real-valued x
    prior_components: int = 10  # X1: Gaussian-mixture components fitted to the codes for sampling

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.code_dim >= 1, f"code_dim must be ≥ 1, got {self.code_dim}")
        require(len(self.data_shape) in (1, 3),
                f"data_shape must be (D,) or (C, H, W), got {self.data_shape}")
        require(all(w >= 1 for w in self.hidden), f"hidden widths must be ≥ 1, got {self.hidden}")
        require(self.prior_components >= 1, f"prior_components must be ≥ 1, got {self.prior_components}")
        if self.architecture == "conv":
            require(len(self.data_shape) == 3 and self.data_shape[1] % 4 == 0 and self.data_shape[2] % 4 == 0,
                    f"architecture='conv' needs images (C, H, W) with H, W divisible by 4, got "
                    f"{self.data_shape}: use architecture='mlp'")
            require(len(self.channels) >= 1 and all(c >= 1 for c in self.channels),
                    f"channels needs at least one positive width, got {self.channels}")

    @property
    def undercomplete(self) -> bool:
        """AE1: ``dim h < dim x``."""
        return self.code_dim < math.prod(self.data_shape)


@dataclasses.dataclass
class AutoencoderOutput(ModelOutput):
    """``loss = reconstruction + penalty`` (means over the batch)."""

    reconstruction: Tensor  # L(x, g(f(x̃))) per example, mean over the batch
    penalty: Tensor  # the variant's weighted regularizer (λ Σ|h_i|, λ‖∂f/∂x‖²_F); 0 for the plain AE
    x_hat: Tensor  # decoder output: logits (bce) or values (mse), (B, *data_shape)
    h: Tensor  # the code f(x̃), (B, code_dim)


def reconstruction_loss(x_hat: Tensor, x: Tensor, kind: str) -> Tensor:
    """AE1/AE5: ``L(x, x̂)`` summed over the values of each example → ``(B,)``: BCE from logits (F3) or
    squared error ``‖x − x̂‖²``."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(x_hat, x, reduction="none").flatten(1).sum(1)
    return (x - x_hat).pow(2).flatten(1).sum(1)


class Autoencoder(Model, Generative, Reconstructs, Encodes, ReconstructionScored):
    """AE1: deterministic autoencoder with an MLP or conv encoder ``f`` and decoder ``g``.

    Hinton & Salakhutdinov, "Reducing the Dimensionality of Data with Neural Networks", Science 2006.
    Inputs ``x`` are checked by ``genlab.models.inputs.check_data``: float batches ``(B, *data_shape)``,
    converted to the parameters' dtype (integer tensors are refused: ``x.float()`` or ``x.float() / 255``),
    in [0, 1] wherever the BCE loss is evaluated (``forward``, ``reconstruction_error``; ``encode`` and
    ``reconstruct`` take any real values, e.g. the noisy inputs of a denoiser).
    """

    config_class = AutoencoderConfig

    def __init__(self, config: AutoencoderConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        if c.architecture == "mlp":
            self.encoder, self.decoder = mlp_autoencoder(c.data_shape, c.hidden, c.code_dim, c.activation,
                                                         c.code_activation)
        else:
            self.encoder, self.decoder = conv_autoencoder(c.data_shape, c.channels, c.hidden, c.code_dim,
                                                          c.activation, c.code_activation)
        self.code_prior = GaussianMixturePrior(c.prior_components, c.code_dim)  # X1, fitted after training

    @classmethod
    def data_defaults(cls, data) -> dict:
        """The data's shape; BCE for images in [0, 1], squared error for other real-valued data."""
        x = data.x
        in_unit = bool(x.min() >= 0 and x.max() <= 1)
        return {"data_shape": tuple(x.shape[1:]), "loss": "bce" if x.dim() == 4 and in_unit else "mse"}

    # --- the two networks -------------------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        """``h = f(x)`` → ``(B, code_dim)``."""
        return self.encoder(self._inputs(x, loss=False))

    def decode(self, h: Tensor) -> Tensor:
        """``g(h)``: logits (bce) or values (mse), ``(B, *data_shape)``."""
        return self.decoder(h)

    # --- the variant hooks ------------------------------------------------------------------
    def corrupt(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """The input the encoder sees while training; the plain autoencoder sees ``x`` itself."""
        return x

    def penalty(self, x_in: Tensor, h: Tensor) -> Tensor:
        """The weighted regularizer added to the loss, mean over the batch (0-d); none here."""
        return h.new_zeros(())

    # --- objective --------------------------------------------------------------------------
    def forward(self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
                ) -> AutoencoderOutput:
        """``loss = mean_B L(x, g(f(x̃))) + penalty``, ``x̃ = corrupt(x)`` (``x̃ = x`` for AE1)."""
        x = self._inputs(x)
        x_in = self.corrupt(x, generator=generator)  # (B, *data_shape)
        h = self.encoder(x_in)  # (B, code_dim)
        x_hat = self.decoder(h)  # (B, *data_shape)
        rec = reconstruction_loss(x_hat, x, self.config.loss).mean()  # against the clean x
        pen = self.penalty(x_in, h)
        return AutoencoderOutput(loss=rec + pen, reconstruction=rec, penalty=pen, x_hat=x_hat, h=h)

    @torch.no_grad()
    def reconstruction_error(self, x: Tensor) -> Tensor:
        """``L(x, g(f(x)))`` per example (no corruption) → ``(B,)``; the anomaly score of AE6."""
        x = self._inputs(x)
        return reconstruction_loss(self.decode(self.encoder(x)), x, self.config.loss)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """``g(f(x))`` in data space (sigmoid of the logits for bce), ``(B, *data_shape)``."""
        return self._to_data(self.decode(self.encode(x)))

    # --- generation (X1) --------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """X1: ``h ~ Σ_k π_k N(μ_k, Σ_k)`` (the fitted code prior), returns ``g(h)`` in data space.

        Raises ``CodePriorNotFitted`` until ``fit_code_prior(model, x)`` (or ``after_fit``) ran.
        """
        n = check_count(n)
        return self._to_data(self.decode(self.code_prior.sample(n, generator=generator)))

    def before_fit(self, data) -> None:
        """Training hook, called once before a fresh run: the decoder's output bias starts at the training
        data's mean (``init_output_bias_``)."""
        init_output_bias_(self.decoder, data.x, self.config.loss)

    def after_fit(self, data, *, final: bool = True) -> None:
        """Training hook, called once training ends (and mid-run at each validation): fit the code prior to the
        training codes (X1)."""
        fit_code_prior(self, data.x)

    def _to_data(self, x_hat: Tensor) -> Tensor:
        return torch.sigmoid(x_hat) if self.config.loss == "bce" else x_hat

    def _inputs(self, x: Tensor, *, loss: bool = True) -> Tensor:
        """``x`` checked (``check_data``); where the ``loss`` is evaluated, BCE needs values in [0, 1]."""
        return check_data(self, x, what="inputs", unit_interval=loss and self.config.loss == "bce",
                          range_hint="or build the model with loss='mse' for real-valued data")
