"""Deep feature consistent VAE (Hou, Shen, Sun & Qiu 2016, "Deep Feature Consistent Variational Autoencoder",
arXiv:1610.00291): the VAE's pixel reconstruction term replaced by a distance between the activations of a fixed,
pretrained network on the input and on its reconstruction (a "perceptual" loss; V2, V3, V6).

    loss = β_KL · KL(q(z|x) ‖ N(0, I)) + w · Σ_l  ½ ‖Φ_l(x) − Φ_l(x̂)‖² / (C_l H_l W_l) · D   (+ w_pix · BCE(x, x̂))

``Φ_l`` is the output of conv block ``l`` (convolution, batch norm, ReLU) of genlab's shipped MNIST LeNet
(``models.cnn.pretrained_lenet``), frozen and in eval mode; ``x̂ = σ(decoder(z))`` the decoder's mean image. The
paper averages each layer's squared error over its ``C_l H_l W_l`` activations (its Eq. (3)); here that mean is put
back on the image's scale, ``× D`` (D = 784 pixels), so that the term weighs against the KL in nats as a pixel
likelihood would (with ``w`` = 1 and one layer it is the squared error of a Gaussian of unit variance per pixel's
worth of features). FID is measured on the LeNet's *penultimate* layer (``metrics.fid``), which the loss never
sees, so the loss does not grade itself.

The feature network is not part of the model's weights (it is the shipped asset, loaded on first use): a saved
DFC-VAE holds only its encoder and decoder. ``elbo`` and the likelihood methods are the VAE's (Bernoulli decoder),
a bound the model is not trained on: report them as such.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from genlab.config import require
from genlab.models.gaussian import kl_standard_normal, reparameterize
from genlab.models.vae import VAE, VAEConfig, VAEOutput


@dataclasses.dataclass
class DFCVAEConfig(VAEConfig):
    #: the LeNet conv blocks (1-based) whose ReLU outputs are compared (the paper: several VGG layers)
    feature_layers: tuple[int, ...] = (1, 2)
    #: w, the weight of the feature term
    feature_weight: float = 1.0
    #: w_pix, the weight of the pixel term (BCE); 0: features alone, as the paper
    pixel_weight: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.likelihood == "bernoulli" and tuple(self.data_shape) == (1, 28, 28),
                f"the DFC-VAE compares MNIST LeNet features: it needs (1, 28, 28) images in [0, 1] and the "
                f"Bernoulli decoder, got data_shape {self.data_shape}, likelihood {self.likelihood}: --data mnist")
        require(len(self.feature_layers) >= 1 and all(1 <= l <= 2 for l in self.feature_layers),
                f"feature_layers are LeNet conv blocks 1 and/or 2, got {self.feature_layers}")
        require(self.feature_weight >= 0 and self.pixel_weight >= 0 and self.feature_weight + self.pixel_weight > 0,
                "feature_weight and pixel_weight must be ≥ 0 and not both 0")


@dataclasses.dataclass
class DFCVAEOutput(VAEOutput):
    features: Tensor  # the feature term (before its weight), mean over the batch
    pixels: Tensor  # −log p(x|z) of the Bernoulli decoder (BCE, nats), mean over the batch


class FeatureNet(nn.Module):
    """Φ: the outputs of the chosen conv blocks of the pretrained LeNet, frozen, always in eval mode."""

    def __init__(self, layers: tuple[int, ...]) -> None:
        super().__init__()
        from genlab.models.cnn import pretrained_lenet

        lenet = pretrained_lenet()
        conv = lenet.conv.eval()
        conv.requires_grad_(False)
        per_block = len(conv) // len(lenet.config.channels)  # conv, (BN), ReLU, pool
        self.blocks = conv
        self.cuts = [l * per_block - 1 for l in sorted(layers)]  # index of block l's pooling: compare before it
        self.train(False)  # batch norm on its running statistics, always

    def train(self, mode: bool = True) -> FeatureNet:
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        out, h = [], x
        for i, layer in enumerate(self.blocks):
            if i in self.cuts:
                out.append(h)  # (B, C_l, H_l, W_l) after the ReLU
            if i > max(self.cuts):
                break
            h = layer(h)
        return out


class DFCVAE(VAE):
    """A VAE whose reconstruction is measured in a pretrained network's features (see the module's docstring)."""

    config_class = DFCVAEConfig

    def __init__(self, config: DFCVAEConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._phi: list[FeatureNet] = []  # loaded on first use, outside the module tree (not saved)

    def phi(self) -> FeatureNet:
        """Φ on the model's device and in its dtype (loaded on first use)."""
        if not self._phi:
            self._phi.append(FeatureNet(tuple(self.config.feature_layers)))
        return self._phi[0].to(device=self.device, dtype=self.dtype)

    def feature_distance(self, x: Tensor, x_mean: Tensor) -> Tensor:
        """``Σ_l ½ mean_l (Φ_l(x) − Φ_l(x̂))² · D`` per example, (B,)."""
        d = x[0].numel()
        with torch.no_grad():
            target = self.phi()(x)
        total = torch.zeros(len(x), device=x.device)
        for a, b in zip(target, self.phi()(x_mean), strict=True):
            total = total + 0.5 * (a - b).pow(2).flatten(1).mean(1) * d
        return total

    def forward(self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
                ) -> DFCVAEOutput:
        x = self._inputs(x)
        mu, logvar = self._encode(x)  # (B, L)
        z = reparameterize(mu, logvar, generator=generator)
        logits = self.decode(z)  # (B, 1, 28, 28)
        features = self.feature_distance(x, torch.sigmoid(logits)).mean()
        pixels = -self.log_px_given_z(x, logits).mean()
        kl = kl_standard_normal(mu, logvar).mean()
        c = self.config
        rec = c.feature_weight * features + c.pixel_weight * pixels
        return DFCVAEOutput(loss=rec + c.beta * kl, reconstruction=rec, kl=kl, elbo=-(pixels + kl), x_hat=logits,
                            z=z, mu=mu, logvar=logvar, features=features, pixels=pixels)
