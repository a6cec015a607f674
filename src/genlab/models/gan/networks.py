"""The generator and discriminator networks: MLPs for vectors (2-D toys), DCGAN for 28×28 images (G5).

Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional GANs", 2015,
arXiv:1511.06434: strided convolutions in the discriminator, transposed convolutions (C7) in the
generator, batch norm in both (not on the generator's output nor the discriminator's input), ReLU in
the generator with a tanh output, LeakyReLU(0.2) in the discriminator, weights from N(0, 0.02).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _norm(kind: str, channels: int, spatial: bool) -> nn.Module:
    """Batch norm (DCGAN), layer norm (a WGAN-GP critic: the penalty is per example), or nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels) if spatial else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if spatial else nn.LayerNorm(channels)
    return nn.Identity()


def _activation(kind: str | None, default: str) -> nn.Module:
    """The hidden activation ``kind`` (``default`` when None): ReLU, LeakyReLU(0.2) or tanh."""
    match kind or default:
        case "relu":
            return nn.ReLU()
        case "leaky_relu":
            return nn.LeakyReLU(0.2)
        case "tanh":
            return nn.Tanh()
    raise ValueError(f"activation must be 'relu', 'leaky_relu' or 'tanh', got {kind!r}")


class LabelInput(nn.Module):
    """G7, the generator's side: ``[z, onehot(y)]`` (``z`` alone when unconditional)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    def forward(self, z: Tensor, y: Tensor | None) -> Tensor:
        if not self.num_classes:
            return z
        return torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1)  # (B, latent + K)


class ProjectionHead(nn.Module):
    """The discriminator's output from its features ``h (B, F)``: ``w·h + b``, plus ``⟨embed(y), h⟩`` when
    conditional — G7 with the projection discriminator (Miyato & Koyama 2018, arXiv:1802.05637)."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features) if num_classes else None

    def forward(self, h: Tensor, y: Tensor | None) -> Tensor:
        out = self.linear(h).squeeze(-1)  # (B,)
        return out if self.embed is None else out + (self.embed(y) * h).sum(1)


class MLPGenerator(nn.Module):
    """``z (B, latent) [, y] → x (B, D)``: ReLU hidden layers (or ``activation``), a linear output (vectors are
    used as given)."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: tuple[int, ...], norm: str = "none",
                 num_classes: int = 0, activation: str | None = None) -> None:
        super().__init__()
        self.label = LabelInput(num_classes)
        layers: list[nn.Module] = []
        d = latent_dim + num_classes
        for h in hidden:
            layers += [nn.Linear(d, h), _norm(norm, h, spatial=False), _activation(activation, "relu")]
            d = h
        self.net = nn.Sequential(*layers, nn.Linear(d, out_dim))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(self.label(z, y))


class MLPDiscriminator(nn.Module):
    """``x (B, D) [, y] → logit (B,)``: LeakyReLU(0.2) hidden layers (or ``activation``), a projection head."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], norm: str = "none", num_classes: int = 0,
                 activation: str | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        d = in_dim
        for h in hidden:
            layers += [nn.Linear(d, h), _norm(norm, h, spatial=False), _activation(activation, "leaky_relu")]
            d = h
        self.features = nn.Sequential(*layers)
        self.head = ProjectionHead(d, num_classes)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.head(self.features(x), y)  # (B,)


class DCGANGenerator(nn.Module):
    """G5: ``z → Linear → (2C, H/4, W/4) → ConvT(4, 2, 1) → (C, H/2, W/2) → ConvT(4, 2, 1) → (c, H, W)``, tanh."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, int, int], channels: int, norm: str = "batch",
                 num_classes: int = 0, activation: str | None = None) -> None:
        super().__init__()
        c, h, w = data_shape
        self.label = LabelInput(num_classes)
        self.start = (2 * channels, h // 4, w // 4)
        self.project = nn.Sequential(nn.Linear(latent_dim + num_classes, math.prod(self.start), bias=norm == "none"),
                                     _norm(norm, math.prod(self.start), spatial=False),
                                     _activation(activation, "relu"))
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1, bias=norm == "none"),  # (B, C, H/2, W/2)
            _norm(norm, channels, spatial=True), _activation(activation, "relu"),
            nn.ConvTranspose2d(channels, c, 4, 2, 1), nn.Tanh(),  # (B, c, H, W) in [−1, 1]
        )

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.up(self.project(self.label(z, y)).view(-1, *self.start))


class DCGANDiscriminator(nn.Module):
    """G5: ``x → Conv(4, 2, 1) → LeakyReLU → Conv(4, 2, 1) → norm → LeakyReLU → projection head → logit (B,)``."""

    def __init__(self, data_shape: tuple[int, int, int], channels: int, norm: str = "batch",
                 num_classes: int = 0, activation: str | None = None) -> None:
        super().__init__()
        c, h, w = data_shape
        self.features = nn.Sequential(
            nn.Conv2d(c, channels, 4, 2, 1), _activation(activation, "leaky_relu"),  # (B, C, H/2, W/2); no norm
            nn.Conv2d(channels, 2 * channels, 4, 2, 1, bias=norm == "none"),  # (B, 2C, H/4, W/4)
            _norm(norm, 2 * channels, spatial=True), _activation(activation, "leaky_relu"),
            nn.Flatten(),
        )
        self.head = ProjectionHead(2 * channels * (h // 4) * (w // 4), num_classes)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.head(self.features(x), y)  # (B,)


def dcgan_init_(module: nn.Module) -> None:
    """Radford et al. §4: weights from ``N(0, 0.02)``; norm scales from ``N(1, 0.02)``, shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
